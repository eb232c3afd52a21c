"""The audit report of POLICY AR-1: searches by user, purpose and case over a period, and what looks wrong.

Pure functions over access records (appliance.audit.records.StoredRecord), so each flag
is tested by planting it: nothing here reads the store or the clock. The page and its CSV
(webui/audit_report.py) pass the records of the period and a `trained(username, day)`
lookup. A flag is a question for the auditor, not a verdict: off-hours work and a busy day
are often legitimate, which is why each flag says what it saw.

- vague purpose: the text the search form would refuse today (purpose.is_vague);
- missing case: no case number on a search that is not exigent;
- off hours: outside the configured working hours, in the agency's time zone;
- volume spike: a user's searches on one day at least SPIKE_FACTOR times their median
  daily count over the period (days with searches) and at least SPIKE_MIN;
- broad sweep: a partial plate with fewer than MIN_FIXED fixed characters (e.g. "7*", "??1*");
- untrained: the user had no current training record on the day of the search.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.audit.purpose import EXIGENT, is_vague
from appliance.audit.records import StoredRecord
from appliance.store.times import from_rfc3339

FLAGS = ("vague purpose", "missing case", "off hours", "volume spike", "broad sweep", "untrained")
MIN_FIXED = 3
SPIKE_FACTOR = 3.0
SPIKE_MIN = 10
_HOURS = re.compile(r"([01]?[0-9]|2[0-4])(?::00)?-([01]?[0-9]|2[0-4])(?::00)?")


@dataclass(frozen=True)
class WorkingHours:
    """The agency's working hours, [start, end) in whole hours of its time zone; end < start spans midnight."""

    start: int = 7
    end: int = 19
    zone: str = "UTC"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 24:
                raise ValueError(f"working hours {name} must be a whole hour from 0 to 24; got {v!r}")
        try:
            ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"working hours time zone must be an IANA name such as America/Los_Angeles; "
                             f"got {self.zone!r}") from None

    @classmethod
    def parse(cls, text: str, zone: str = "UTC") -> "WorkingHours":
        """"07-19" or "07:00-19:00" (start-end, whole hours)."""
        m = _HOURS.fullmatch(text.strip())
        if not m:
            raise ValueError(f"working hours must look like 07-19 or 07:00-19:00 (whole hours); got {text!r}")
        return cls(int(m[1]), int(m[2]), zone)

    def contains(self, t: datetime) -> bool:
        hour = t.astimezone(ZoneInfo(self.zone)).hour
        if self.start <= self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end


def hours_problem(text: str) -> str | None:
    """For the config check: what is wrong with a working-hours text ("must ..."), or None."""
    return None if isinstance(text, str) and _HOURS.fullmatch(text.strip()) else \
        "must look like 07-19 or 07:00-19:00 (start-end, whole hours)"


def zone_problem(name: str) -> str | None:
    """For the config check: what is wrong with a time-zone name, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return "must be an IANA time zone such as America/Los_Angeles or UTC"
    return None


@dataclass(frozen=True)
class Flag:
    """One thing the auditor should look at, on one record."""

    record_id: str
    username: str
    kind: str  # one of FLAGS
    why: str


@dataclass(frozen=True)
class Row:
    """A search of the report with its flags."""

    record: StoredRecord
    flags: tuple[Flag, ...]


def searches(records: Iterable[StoredRecord], *, user: str = "", purpose: str = "", case: str = "",
             since: datetime | None = None, until: datetime | None = None) -> list[StoredRecord]:
    """The search records matching the filters (empty filter = any), oldest first; `until` exclusive."""
    out = []
    for r in records:
        if r.action != "search":
            continue
        at = from_rfc3339(r.at)
        if (user and r.username != user) or (purpose and r.purpose_category != purpose) \
                or (case and case.casefold() not in r.case_number.casefold()) \
                or (since and at < since) or (until and at >= until):
            continue
        out.append(r)
    return sorted(out, key=lambda r: r.n)


def fixed_characters(pattern: str) -> int:
    """How many characters of a plate pattern are not wildcards."""
    return sum(1 for c in pattern if c not in "?*")


def record_flags(r: StoredRecord, hours: WorkingHours, trained: Callable[[str, date], bool]) -> list[Flag]:
    """The flags one search earns on its own (all but the volume spike, which needs the user's other days)."""
    flags = []
    at = from_rfc3339(r.at)
    def flag(kind: str, why: str) -> None:
        flags.append(Flag(r.id, r.username, kind, why))
    if is_vague(r.purpose_category, r.purpose_text):
        flag("vague purpose", f"purpose text {r.purpose_text!r} says too little")
    if r.purpose_category != EXIGENT and not r.case_number.strip():
        flag("missing case", "no case number")
    if not hours.contains(at):
        local = at.astimezone(ZoneInfo(hours.zone)).strftime("%H:%M")
        flag("off hours", f"at {local} {hours.zone}, outside {hours.start:02d}:00-{hours.end:02d}:00")
    plate = r.query.get("plate") if isinstance(r.query, dict) else None
    if isinstance(plate, str) and any(c in plate for c in "?*") and fixed_characters(plate) < MIN_FIXED:
        flag("broad sweep", f"plate pattern {plate!r} fixes only {fixed_characters(plate)} characters "
                            f"(fewer than {MIN_FIXED})")
    if not trained(r.username, at.date()):
        flag("untrained", f"no current training record on {at.date().isoformat()}")
    return flags


def spikes(records: Sequence[StoredRecord], hours: WorkingHours, *, factor: float = SPIKE_FACTOR,
           minimum: int = SPIKE_MIN) -> dict[tuple[str, date], str]:
    """(user, local day) -> why, for the days a user searched far more than their median day."""
    zone = ZoneInfo(hours.zone)
    per_day: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        per_day[r.username][from_rfc3339(r.at).astimezone(zone).date()] += 1
    out = {}
    for user, days in per_day.items():
        median = statistics.median(days.values())
        for day, n in days.items():
            if n >= minimum and n >= factor * median:
                out[(user, day)] = f"{n} searches on {day.isoformat()}, {n / median:.1f} times their median of {median:g}"
    return out


def report(records: Iterable[StoredRecord], *, hours: WorkingHours, trained: Callable[[str, date], bool],
           **filters) -> list[Row]:
    """The searches matching `filters` (see `searches`), each with every flag it earns."""
    found = searches(records, **filters)
    spiky = spikes(found, hours)
    zone = ZoneInfo(hours.zone)
    rows = []
    for r in found:
        flags = record_flags(r, hours, trained)
        why = spiky.get((r.username, from_rfc3339(r.at).astimezone(zone).date()))
        if why:
            flags.append(Flag(r.id, r.username, "volume spike", why))
        rows.append(Row(r, tuple(flags)))
    return rows


def summary(rows: Sequence[Row]) -> dict[str, dict[str, int]]:
    """Counts by user, by purpose category and by case number, and of each flag."""
    return {"user": dict(Counter(r.record.username for r in rows)),
            "purpose": dict(Counter(r.record.purpose_category for r in rows)),
            "case": dict(Counter(r.record.case_number or "(none)" for r in rows)),
            "flag": dict(Counter(f.kind for r in rows for f in r.flags))}


CSV_COLUMNS = ("n", "id", "at", "username", "purpose_category", "purpose_text", "case_number", "query",
               "result_count", "flags", "why")


def csv_rows(rows: Sequence[Row]) -> list[list]:
    """The report as CSV rows (header first); the caller makes formula-like cells safe."""
    out: list[list] = [list(CSV_COLUMNS)]
    for row in rows:
        r = row.record
        out.append([r.n, r.id, r.at, r.username, r.purpose_category, r.purpose_text, r.case_number, r.query,
                    r.result_count, "; ".join(f.kind for f in row.flags), "; ".join(f.why for f in row.flags)])
    return out
