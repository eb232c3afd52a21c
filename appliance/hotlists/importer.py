"""One import from a file's bytes to a replaced list: parse by format, check, then (unless check-only) apply.

The command line (`alpr hotlist import`) and the web UI's import page both come through
here, so they parse, check and report the same way. An import replaces the whole list,
so checking the file's entries checks the list as it will be, and names the file's
lines; applying goes through `repository.replace_list`, one transaction with its log row
and access record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from appliance.hotlists import imports, repository
from appliance.hotlists.checker import CheckReport, check
from appliance.hotlists.model import Hotlist, HotlistError

__all__ = ["FORMATS", "Outcome", "parse", "parse_columns", "run_import"]

FORMATS = ("csv", "ncic", "json")


@dataclass(frozen=True)
class Outcome:
    """What an import found, and the log row when it was applied (None for a check only)."""

    parsed: imports.Parsed
    report: CheckReport
    applied: repository.ImportLog | None


def parse_columns(text: str) -> dict[str, str] | None:
    """`plate=Plate No,state=ST` -> {"plate": "Plate No", "state": "ST"}; "" -> None (columns named like ours)."""
    if not text or not text.strip():
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        ours, sep, theirs = part.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise HotlistError(f"column mapping {part.strip()!r} is not field=column; fields are "
                               f"{', '.join(imports.CSV_FIELDS)}, e.g. plate=Plate No,state=ST")
        out[ours.strip()] = theirs.strip()
    return out


def parse(data: bytes, fmt: str, hotlist: Hotlist, now: datetime, columns: Mapping[str, str] | None = None) -> imports.Parsed:
    """The file's entries for `hotlist` (source system or list name as entered_by for lines that do not say)."""
    source = hotlist.source_system or hotlist.name
    if fmt == "csv":
        return imports.parse_csv(data, hotlist.id, source=source, now=now, columns=columns)
    if columns:
        raise HotlistError("a column mapping applies to CSV files only")
    if fmt == "ncic":
        return imports.parse_fixed_width(data, hotlist.id, source=source, now=now)
    if fmt == "json":
        return imports.parse_json(data, hotlist.id, source=source, now=now)
    raise HotlistError(f"import format must be one of {', '.join(FORMATS)}; got {fmt!r}")


def run_import(store, hotlist: Hotlist, data: bytes, fmt: str, who: str, now: datetime, *,
               columns: Mapping[str, str] | None = None, check_only: bool = False, client: str = "local",
               agency: str = "") -> Outcome:
    """Parse and check the file; unless `check_only`, make it the whole list (atomically, logged)."""
    parsed = parse(data, fmt, hotlist, now, columns)
    report = check(parsed.entries, now=now, lines=parsed.lines, budget=max(hotlist.budget, 1))
    applied = None
    if not check_only:
        applied = repository.replace_list(store, hotlist, parsed, who, now=now, client=client, agency=agency)
    return Outcome(parsed, report, applied)
