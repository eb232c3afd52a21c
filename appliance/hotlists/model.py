"""The hotlist domain: lists, entries and hits, as plain frozen dataclasses the store can keep later.

Times are timezone-aware UTC datetimes in memory and RFC 3339 UTC strings
("2026-11-30T04:21:07.183Z", `appliance.store.times`) in `to_dict`, the form the store
and the hub API use. Entries hold the normalised plate (A-Z0-9) or pattern (plus `?`
and `*`); the list they belong to says where they came from (POLICY HL-1).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from appliance.errors import AlprError
from appliance.hotlists.normalise import WILDCARDS, normalise_pattern
from appliance.ids import uuid7

__all__ = ["HotlistError", "ImportFileError", "Hotlist", "Entry", "Renewal", "Hit", "SOURCES",
           "POLICIES", "HIT_KINDS", "MANUAL_EXPIRY", "MAX_LOOKALIKE_BUDGET", "manual_entry", "synced_entry"]


class HotlistError(AlprError, ValueError):
    """A hotlist, entry or renewal is invalid; the message names the field and what is allowed."""


class ImportFileError(HotlistError):
    """A whole import file is unusable (empty, UTF-16, broken JSON, missing column): nothing was imported."""


SOURCES = ("stolen_vehicle", "stolen_plate", "wanted", "missing_person", "bolo",
           "partial_plate_major_incident", "custom")  # missing_person includes AMBER alerts
POLICIES = ("exact", "lookalike")
HIT_KINDS = ("exact", "partial", "alternative", "lookalike")  # strongest first
MANUAL_EXPIRY = timedelta(days=30)  # POLICY RT-5
MAX_LOOKALIKE_BUDGET = 2  # past two swapped characters a 7-character plate is another plate
MAX_PLATE_LEN = 10  # US plates run 2-8 characters; a little room for others
MIN_PATTERN_LITERALS = 3  # "*" or "??????" would hit every car that passes
_STORED_PLATE = re.compile(r"[A-Z0-9?*]+\Z")


def to_rfc3339(t: datetime) -> str:
    """"2026-11-30T04:21:07.183Z": the store's and hub API's form (as appliance.store.times writes it)."""
    u = t.astimezone(timezone.utc)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def from_rfc3339(s: str) -> datetime:
    """An aware UTC datetime from RFC 3339 with Z or an offset; naive or malformed text is a HotlistError.

    Kept here rather than imported from appliance.store.times: importing that runs the
    store package, which will import this module once hotlists are persisted.
    """
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError):
        raise HotlistError(f"not an RFC 3339 time like 2026-11-30T04:21:07.183Z: {s!r}") from None
    if t.tzinfo is None:
        raise HotlistError(f"RFC 3339 time needs Z or an offset: {s!r}")
    return t.astimezone(timezone.utc)


def _aware(t: datetime | None, what: str) -> None:
    if t is not None and (not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None):
        raise HotlistError(f"{what} must be a timezone-aware UTC datetime; got {t!r}")


def _time(t: datetime | None) -> str | None:
    return None if t is None else to_rfc3339(t)


def _parse_time(s: str | None) -> datetime | None:
    return None if s in (None, "") else from_rfc3339(s)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Hotlist:
    """One list: where it comes from, how urgent its hits are, how loosely it may match."""

    id: str
    name: str
    source: str  # one of SOURCES
    priority: int = 3  # 1 (most urgent) .. 5; orders hits and, later, alerts
    source_system: str = ""  # for synced lists, e.g. "CLETS via hub"; "" for a list kept by hand
    refreshed_at: datetime | None = None  # last sync or import (HL-2 shows the list's age)
    refresh_interval_s: int = 0  # how often a synced list is fetched; 0 = by hand only
    policy: str = "lookalike"  # "exact" or "lookalike"
    lookalike_budget: int = 1  # look-alike characters a hit may differ by (policy "lookalike")

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise HotlistError("hotlist name is empty")
        if self.source not in SOURCES:
            raise HotlistError(f"hotlist source must be one of {', '.join(SOURCES)}; got {self.source!r}")
        if not 1 <= self.priority <= 5:
            raise HotlistError(f"hotlist priority must be 1 (most urgent) to 5; got {self.priority}")
        if self.policy not in POLICIES:
            raise HotlistError(f"hotlist policy must be one of {', '.join(POLICIES)}; got {self.policy!r}")
        if not 0 <= self.lookalike_budget <= MAX_LOOKALIKE_BUDGET:
            raise HotlistError(f"lookalike_budget must be 0 to {MAX_LOOKALIKE_BUDGET}; got {self.lookalike_budget}")
        if self.refresh_interval_s < 0:
            raise HotlistError(f"refresh_interval_s must be >= 0; got {self.refresh_interval_s}")
        _aware(self.refreshed_at, "refreshed_at")

    @property
    def budget(self) -> int:
        """Look-alike characters a hit may differ by: 0 under the exact policy."""
        return self.lookalike_budget if self.policy == "lookalike" else 0

    def age(self, now: datetime) -> timedelta | None:
        """Time since the last refresh (None if never refreshed)."""
        return None if self.refreshed_at is None else now - self.refreshed_at

    def is_stale(self, now: datetime, threshold: timedelta = timedelta(hours=24)) -> bool:
        """True when the list was never refreshed or is older than `threshold` (HL-2)."""
        age = self.age(now)
        return age is None or age > threshold

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "source": self.source, "priority": self.priority,
                "source_system": self.source_system, "refreshed_at": _time(self.refreshed_at),
                "refresh_interval_s": self.refresh_interval_s, "policy": self.policy,
                "lookalike_budget": self.lookalike_budget}

    @classmethod
    def from_dict(cls, d: dict) -> Hotlist:
        return cls(**{**d, "refreshed_at": _parse_time(d.get("refreshed_at"))})


@dataclass(frozen=True, slots=True)
class Renewal:
    """Who kept a manual entry alive, when, why, and until when."""

    at: datetime
    by: str
    reason: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One plate (or partial pattern) on one list, with who put it there and why (HL-1)."""

    id: str
    list_id: str
    plate: str  # normalised: A-Z0-9, or a pattern with ? (one character) and * (any run)
    entered_by: str  # a username, or the source system for synced lists
    entered_at: datetime
    state: str = ""  # two-letter code, "" when unknown
    description: str = ""  # vehicle: year, make, model, colour, VIN
    reason: str = ""
    case_number: str = ""
    expires_at: datetime | None = None
    manual: bool = False  # entered by hand: expires unless renewed (RT-5)
    renewals: tuple[Renewal, ...] = ()

    def __post_init__(self) -> None:
        p = self.plate
        if not isinstance(p, str) or not _STORED_PLATE.match(p) or "**" in p:
            raise HotlistError(f"entry plate must be normalised (A-Z, 0-9, ? and *); got {p!r}")
        if self.is_pattern:
            literals = sum(c not in WILDCARDS for c in p)
            if literals < MIN_PATTERN_LITERALS:
                raise HotlistError(f"pattern {p!r} has {literals} known characters; at least "
                                   f"{MIN_PATTERN_LITERALS} are needed so it does not hit every car")
        elif len(p) > MAX_PLATE_LEN:
            raise HotlistError(f"plate {p!r} is {len(p)} characters; at most {MAX_PLATE_LEN}")
        if self.state and not (len(self.state) == 2 and self.state.isascii() and self.state.isalpha()
                               and self.state.isupper()):
            raise HotlistError(f"state must be a two-letter upper-case code like CA, or empty; got {self.state!r}")
        if not self.entered_by.strip():
            raise HotlistError("entered_by is empty: every entry says who entered it (HL-1)")
        _aware(self.entered_at, "entered_at")
        _aware(self.expires_at, "expires_at")
        if self.manual and self.expires_at is None:
            raise HotlistError("a manual entry needs an expiry (RT-5); use manual_entry()")

    @property
    def is_pattern(self) -> bool:
        return "?" in self.plate or "*" in self.plate

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def renew(self, reason: str, by: str, now: datetime, period: timedelta = MANUAL_EXPIRY) -> Entry:
        """A copy that expires `period` after `now`; refused without a reason (RT-5) or for synced entries."""
        if not self.manual:
            raise HotlistError("only manual entries expire and are renewed; a synced entry is renewed by its source")
        if not isinstance(reason, str) or not reason.strip():
            raise HotlistError("renewing an entry needs a reason (RT-5); got an empty one")
        if not by.strip():
            raise HotlistError("renewing an entry needs the username of who renews it")
        _aware(now, "now")
        until = now + period
        return replace(self, expires_at=until, renewals=self.renewals + (Renewal(now, by, reason.strip(), until),))

    def to_dict(self) -> dict:
        return {"id": self.id, "list_id": self.list_id, "plate": self.plate, "state": self.state,
                "description": self.description, "reason": self.reason, "case_number": self.case_number,
                "entered_by": self.entered_by, "entered_at": _time(self.entered_at),
                "expires_at": _time(self.expires_at), "manual": self.manual,
                "renewals": [{"at": _time(r.at), "by": r.by, "reason": r.reason, "expires_at": _time(r.expires_at)}
                             for r in self.renewals]}

    @classmethod
    def from_dict(cls, d: dict) -> Entry:
        renewals = tuple(Renewal(from_rfc3339(r["at"]), r["by"], r["reason"], from_rfc3339(r["expires_at"]))
                         for r in d.get("renewals", ()))
        return cls(**{**d, "entered_at": from_rfc3339(d["entered_at"]), "expires_at": _parse_time(d.get("expires_at")),
                      "renewals": renewals})


def _plate(text: str) -> str:
    try:
        return normalise_pattern(text)
    except ValueError as exc:
        raise HotlistError(str(exc)) from None


def manual_entry(list_id: str, plate: str, *, entered_by: str, now: datetime, reason: str,
                 case_number: str = "", state: str = "", description: str = "",
                 period: timedelta = MANUAL_EXPIRY) -> Entry:
    """An entry typed in by a user: normalised, reason required, expiring `period` after `now` (RT-5)."""
    if not reason.strip():
        raise HotlistError("a manual entry needs a reason (HL-1)")
    _aware(now, "now")
    return Entry(uuid7(), list_id, _plate(plate), entered_by, now, state.strip().upper(), description.strip(),
                 reason.strip(), case_number.strip(), now + period, manual=True)


def synced_entry(list_id: str, plate: str, *, entered_by: str, entered_at: datetime, state: str = "",
                 description: str = "", reason: str = "", case_number: str = "",
                 expires_at: datetime | None = None) -> Entry:
    """An entry from an import or sync: `entered_by`/`entered_at` default to the source system and sync time (HL-1)."""
    # States, sources and stock reasons repeat across a list: one shared copy each (a 1M-line import is ~100 MB smaller)
    return Entry(uuid7(), list_id, _plate(plate), sys.intern(entered_by), entered_at, sys.intern(state.strip().upper()),
                 description.strip(), sys.intern(reason.strip()), case_number.strip(), expires_at)


@dataclass(frozen=True, slots=True)
class Hit:
    """One read matching one entry: how, at which characters, and how sure (see matching.py for the score)."""

    entry: Entry
    hotlist: Hotlist
    kind: str  # one of HIT_KINDS
    read_text: str  # the read's text, normalised
    matched_text: str  # the text that matched the entry: the read's, a look-alike variant, or an alternative
    substituted: tuple[int, ...]  # positions of read_text that differ from matched_text
    uncertain: tuple[int, ...]  # positions whose character confidence was below matching.UNCERTAIN_BELOW
    score: float  # 0..1, the reader's probability that the plate says matched_text
    read_id: str = ""

    def to_dict(self) -> dict:
        return {"entry_id": self.entry.id, "list_id": self.hotlist.id, "kind": self.kind, "read_id": self.read_id,
                "read_text": self.read_text, "matched_text": self.matched_text, "substituted": list(self.substituted),
                "uncertain": list(self.uncertain), "score": round(self.score, 6)}


def utc_now() -> datetime:
    """The default clock for matching."""
    return datetime.now(timezone.utc)
