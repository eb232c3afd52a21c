"""The heartbeat: every minute, the device's health to the hub, so the agency sees a sick pole early.

A heartbeat is one push item (kind "heartbeat") sent through the forwarder's session and
auth (Forwarder.send_items), never stored in the outbox: a missed heartbeat is stale by
the next one and is not resent. Its seq still comes from the store's per-kind counter
(outbox.next_seqs), so it increases across restarts and the hub reads a gap as missed
heartbeats. The item: {"kind": "heartbeat", "id", "seq", "at", "health": {...}} with
the pipeline's counters (fps, drops), the sensors (temperature, throttling, disk, eMMC,
clock sync and offset), the outbox backlog (count, oldest age, last success, last error),
the hotlists' age (hotlist_sync.sync_status) and the software versions. A part that cannot
be read says so ("error") and the rest still goes.
"""

from __future__ import annotations

import logging
import platform
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime

from appliance.health_state import health_snapshot
from appliance.hotlists.model import utc_now
from appliance.hub.forwarder import backlog_stats
from appliance.hub.hotlist_sync import sync_status
from appliance.ids import uuid7
from appliance.store import outbox
from appliance.store.times import to_rfc3339
from firmware.periodic import Periodic

log = logging.getLogger(__name__)

Send = Callable[[list[dict]], tuple[list[str], "str | None"]]  # Forwarder.send_items


def software_versions() -> dict:
    """This package's version, Python's and the store schema's."""
    import appliance
    from appliance.store.schema import LATEST
    return {"alpr_appliance": appliance.version, "python": platform.python_version(), "store_schema": LATEST}


def chrony_offset_s(run: Callable[[list[str]], str] | None = None) -> float | None:
    """chrony's System time (seconds the system clock is off NTP time), or None when chrony cannot tell."""
    exe = shutil.which("chronyc")
    if run is None:
        if exe is None:
            return None
        run = lambda argv: subprocess.run(argv, capture_output=True, text=True, timeout=2).stdout  # noqa: E731
    try:
        fields = run([exe or "chronyc", "-c", "tracking"]).strip().split(",")
        return float(fields[4])
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return None


def sensor_values(data_path) -> dict:
    """Temperatures, throttling, disk, eMMC and clock sync from firmware/health.py."""
    from firmware.health import read_health
    h = read_health(data_path=data_path)
    disk = None if h.disk is None else {"path": h.disk.path, "total": h.disk.total, "used": h.disk.used,
                                        "free": h.disk.free, "used_fraction": round(h.disk.used_fraction, 4)}
    throttling = None if h.throttling is None else {"now": sorted(h.throttling.now),
                                                    "since_boot": sorted(h.throttling.since_boot)}
    return {"cpu_temp_c": h.cpu_temp_c, "throttling": throttling, "disk": disk, "emmc": h.emmc,
            "clock_synced": h.clock_synced, "level": h.level.name.lower(), "reasons": list(h.reasons)}


def collect_health(store, *, pipeline=None, forwarder=None, sensors: Callable[[], dict] | None = None,
                   offset: Callable[[], float | None] = chrony_offset_s,
                   clock: Callable[[], datetime] = utc_now,
                   certificates: Callable[[], list] | None = None) -> dict:
    """Everything a heartbeat reports, each part read on its own so one failure costs only that part."""
    parts: dict[str, Callable[[], object]] = {
        "pipeline": (lambda: pipeline.health.snapshot(pipeline.frames)) if pipeline is not None else (lambda: None),
        "sensors": sensors or (lambda: sensor_values(store.folder)),
        "clock_offset_s": offset,
        "backlog": (lambda: forwarder.stats()) if forwarder is not None else (lambda: backlog_stats(store, clock())),
        "hotlists": lambda: sync_status(store, clock()),
        "versions": software_versions,
        "device": health_snapshot,  # the edge: LED state, tamper, door, day/night (appliance/health_state.py)
        "certificates": certificates or (lambda: []),  # expiry and warnings (provision/renewal.py)
    }
    health: dict[str, object] = {}
    for name, read in parts.items():
        try:
            health[name] = read()
        except Exception as exc:  # a broken sensor must not silence the heartbeat
            log.warning("heartbeat: could not read %s: %s", name, exc)
            health[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return health


class Heartbeat:
    """Sends a heartbeat now and every `interval_s` until stopped; `beat_once` is one, for tests."""

    def __init__(self, store, send: Send, collect: Callable[[], dict], *, interval_s: float = 60.0,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if interval_s <= 0:
            raise ValueError(f"the heartbeat interval must be positive; got {interval_s}")
        self.store, self.interval_s = store, interval_s
        self._send, self._collect, self._clock = send, collect, clock
        # beat at once, then every interval; the thread's store connection is closed as it ends
        self._worker = Periodic("hub-heartbeat", self.beat_once, interval_s, on_exit=store.disconnect)
        self.sent = 0
        self.missed = 0
        self.last_error: str | None = None

    def item(self) -> dict:
        """The next heartbeat item (reserves its seq)."""
        db = self.store.database
        with db.atomic():
            (seq,) = outbox.next_seqs(db, "heartbeat", 1)
        return {"kind": "heartbeat", "id": uuid7(), "seq": seq, "at": to_rfc3339(self._clock()),
                "health": self._collect()}

    def beat_once(self) -> bool:
        """Send one heartbeat; True when the hub acknowledged it (a miss is logged, never resent)."""
        item = self.item()
        ack, error = self._send([item])
        if error is None and item["id"] not in ack:
            error = "the hub did not acknowledge the heartbeat"
        if error is not None:
            self.missed += 1
            self.last_error = error
            log.warning("heartbeat %d not delivered (%s); the next one follows in %.0f s", item["seq"], error,
                        self.interval_s)
            return False
        self.sent += 1
        self.last_error = None
        return True

    def start(self) -> None:
        """Beat now and every `interval_s` on the "hub-heartbeat" thread (once: a second start raises)."""
        self._worker.start()

    def stop(self, timeout: float = 15.0) -> bool:
        """End the thread after its current beat; True if it ended."""
        return self._worker.stop(timeout)
