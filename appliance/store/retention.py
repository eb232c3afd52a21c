"""When data leaves the store (POLICY RT-1, RT-2): periods, disk watermarks, purge reports, the daily schedule.

The appliance's store is a rolling buffer in front of the hub, which keeps plate data for
the agency's year. So a local period counts from the hub's confirmation of receipt, not
from the read: a device cut off from its hub for a month keeps everything it has not
delivered, however old (RT-1 "never before the hub has it"). Reads under a hold flag stay
whatever their age (RT-3 legal holds build on that flag).

Only the disk watermark may take data the hub has not confirmed, and then only images of
non-hit reads, never metadata (purge.py), each one listed in the purge record.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

MAX_DAYS = 36_500
DiskUsage = Callable[[], tuple[int, int]]  # (used bytes, total bytes) of the store's file system
T = TypeVar("T")


def _check_days(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 <= value <= MAX_DAYS:
        raise ValueError(f"retention {name} must be a number of days from 0 to {MAX_DAYS}; got {value!r}")


@dataclass(frozen=True)
class RetentionPolicy:
    """Local periods, in days after the hub confirmed a read (defaults: POLICY RT-1).

    `image_days` applies to the images of non-hit reads: below `non_hit_days` the images
    go first and the metadata stays until its own period ends. A hit keeps its images as
    long as the hit itself is kept.
    """

    non_hit_days: float = 30
    image_days: float = 30
    hit_days: float = 365

    def __post_init__(self) -> None:
        for name in ("non_hit_days", "image_days", "hit_days"):
            _check_days(name, getattr(self, name))

    @classmethod
    def from_config(cls, store_cfg: Any) -> RetentionPolicy:
        """The policy of a `StoreConfig` (fields retention_non_hit_days, retention_image_days, retention_hit_days)."""
        return cls(store_cfg.retention_non_hit_days, store_cfg.retention_image_days, store_cfg.retention_hit_days)

    def cutoffs(self, now: datetime) -> dict[str, str]:
        """Confirmation times before which each kind of data is due, as the store's RFC 3339 text."""
        return {name: to_rfc3339(now - timedelta(days=getattr(self, f"{name}_days")))
                for name in ("non_hit", "image", "hit")}


@dataclass(frozen=True)
class Watermarks:
    """Disk use (fractions of the file system) at which images of non-hits start to go, and where they stop."""

    high: float = 0.90
    low: float = 0.85

    def __post_init__(self) -> None:
        for name in ("high", "low"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
                raise ValueError(f"watermark {name} must be a fraction of the disk above 0 and at most 1; got {v!r}")
        if self.low >= self.high:
            raise ValueError(f"watermark low ({self.low}) must be below high ({self.high}) so a purge frees "
                             "room before the next one starts")

    @classmethod
    def from_config(cls, store_cfg: Any) -> Watermarks:
        """The watermarks of a `StoreConfig` (fields capacity_high_percent, capacity_low_percent)."""
        return cls(store_cfg.capacity_high_percent / 100, store_cfg.capacity_low_percent / 100)


def disk_usage_of(folder: Path) -> DiskUsage:
    """The real measure: used and total bytes of the file system holding `folder`."""
    def usage() -> tuple[int, int]:
        u = shutil.disk_usage(folder)
        return u.used, u.total
    return usage


@dataclass(frozen=True)
class PurgeReport:
    """One purge run as recorded in purge_records (RT-2); `items` lists a capacity purge's reads."""

    id: str
    reason: str  # "retention" or "capacity"
    started_at: datetime
    finished_at: datetime | None  # None: the run was cut short; its counts still match what went
    reads_deleted: int
    images_deleted: int
    oldest_read: datetime | None  # last_seen of the oldest read it touched
    newest_read: datetime | None
    detail: dict = field(default_factory=dict)
    items: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """The shape the hub receives (times RFC 3339 UTC, milliseconds)."""
        d = asdict(self)
        for k in ("started_at", "finished_at", "oldest_read", "newest_read"):
            d[k] = None if d[k] is None else to_rfc3339(d[k])
        d["items"] = list(self.items)
        return {"kind": "purge", **d}

    def __str__(self) -> str:
        return (f"purge {self.reason}: {self.reads_deleted} reads and {self.images_deleted} images deleted "
                f"({json.dumps(self.detail, sort_keys=True)})")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class PurgeSchedule:
    """Says when the next daily purge is due; the writer thread asks `run_if_due` now and then.

    Seed it with the store's last finished purge (`Store.last_purge()`) so a restart does
    not purge twice in a day, nor skip a day. A failed purge is retried after `retry`.
    A last run in the future (the clock was set back) counts as no run: purge now.
    """

    def __init__(self, last_run: datetime | None = None, *, interval: timedelta = timedelta(days=1),
                 retry: timedelta = timedelta(hours=1), clock: Callable[[], datetime] = _utc_now) -> None:
        if interval <= timedelta(0) or retry <= timedelta(0):
            raise ValueError(f"purge interval and retry must be positive; got {interval} and {retry}")
        self.last_run = last_run
        self.interval = interval
        self.retry = retry
        self._clock = clock
        self._retry_at: datetime | None = None

    def next_due(self, now: datetime | None = None) -> datetime:
        now = now or self._clock()
        if self._retry_at is not None:
            return self._retry_at
        if self.last_run is None or self.last_run > now:
            return now
        return self.last_run + self.interval

    def due(self) -> bool:
        return self._clock() >= self.next_due()

    def run_if_due(self, purge: Callable[[datetime], T]) -> T | None:
        """Call `purge(now)` when due and note the run; None when not due."""
        now = self._clock()
        if now < self.next_due(now):  # the same `now`: a never-run schedule is due at once
            return None
        try:
            result = purge(now)
        except Exception:
            self._retry_at = now + self.retry
            log.exception("the daily purge failed; retrying at %s", to_rfc3339(self._retry_at))
            raise
        self._retry_at = None
        self.last_run = now
        return result
