"""Reading hotlist files: CSV with configurable columns, an NCIC-style fixed-width extract, the hub's JSON.

Every parser takes the file's bytes and returns `Parsed`: the good entries, and each bad
line by number with the reason; a bad line never stops the import. A file that cannot be
read at all (empty, UTF-16, broken JSON, no plate column) raises `ImportFileError` and
nothing is imported, so a truncated download never empties a list.

Encoding: UTF-8 (a BOM is fine). A file that is not valid UTF-8 is read as Windows-1252
(what Excel on Windows writes), or Latin-1 when even that fails, with a warning naming
the first offending byte and its line. Plates are A-Z0-9 whatever the guess, so only
free text (descriptions) can come out garbled, and the warning says so. NUL bytes mean
UTF-16 or a binary file: refused with a message saying to save as UTF-8.

`replace_list` turns a parse into the list's new contents and the added / removed /
changed / kept counts. Writing them to the store in one transaction, with who and when
(LG-1), is the store's job (a later part of issue #7).
"""

from __future__ import annotations

import csv
import json
import logging
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone

from appliance.hotlists.model import Entry, HotlistError, ImportFileError, from_rfc3339, synced_entry

__all__ = ["Parsed", "Rejected", "ImportResult", "parse_csv", "parse_fixed_width", "parse_json", "replace_list",
           "decode", "CSV_FIELDS", "FIXED_WIDTH_LAYOUT", "FORMATS"]

log = logging.getLogger(__name__)

CSV_FIELDS = ("plate", "state", "description", "reason", "case_number", "entered_by", "entered_at", "expires_at")
_SHOWN = 120  # characters of a rejected line kept for the report

# Our accepted stolen-vehicle extract: one record per line, fixed columns (1-based,
# inclusive, as printed layouts number them), NCIC/CLETS field codes. This is the
# layout this appliance accepts, modelled on NCIC vehicle and licence-plate file
# fields; it is not an official NCIC interchange format, and an agency's extract is
# cut to it (or exported as CSV with a column mapping) before import.
FIXED_WIDTH_LAYOUT: tuple[tuple[str, int, int, str], ...] = (
    ("RTY", 1, 2, "record type: SV stolen vehicle, SP stolen licence plate"),
    ("LIC", 3, 12, "licence plate number, left-justified, space-padded"),
    ("LIS", 13, 14, "licence plate state, two letters"),
    ("LIY", 15, 18, "licence plate year (registration expiry), YYYY or blank"),
    ("LIT", 19, 20, "licence plate type, e.g. PC passenger, TK truck, or blank"),
    ("VIN", 21, 40, "vehicle identification number, space-padded, or blank"),
    ("VYR", 41, 44, "vehicle model year or blank"),
    ("VMA", 45, 48, "vehicle make code, e.g. TOYT"),
    ("VMO", 49, 51, "vehicle model code, e.g. CAM"),
    ("VCO", 52, 58, "vehicle colour(s), e.g. BLK or RED/WHI"),
    ("NIC", 59, 68, "NCIC number, e.g. V123456789 (becomes the entry's case number)"),
    ("DOT", 69, 76, "date of theft, YYYYMMDD"),
    ("ORI", 77, 85, "originating agency (ORI); optional, becomes entered_by"),
)
FIXED_WIDTH_MIN_LENGTH = 76  # through DOT; ORI and anything past column 85 are optional
_RECORD_TYPES = {"SV": "stolen vehicle", "SP": "stolen licence plate"}


@dataclass(frozen=True, slots=True)
class Rejected:
    """One line that was not imported, and why."""

    line: int
    reason: str
    text: str  # the line, cut to 120 characters


@dataclass(frozen=True)
class Parsed:
    """What a parser made of one file."""

    entries: tuple[Entry, ...]
    lines: Sequence[int]  # the source line of each entry (for the checker's report); a compact array
    rejected: tuple[Rejected, ...]
    warnings: tuple[str, ...]
    encoding: str


@dataclass(frozen=True)
class ImportResult:
    """A list's new contents and what changed: the figures an import's access record carries."""

    entries: tuple[Entry, ...]
    added: int
    removed: int
    changed: int
    kept: int
    rejected: tuple[Rejected, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)

    def summary(self) -> dict:
        return {"entries": len(self.entries), "added": self.added, "removed": self.removed, "changed": self.changed,
                "kept": self.kept, "rejected": self.rejected_count, "warnings": list(self.warnings)}


def decode(data: bytes) -> tuple[str, str, list[str]]:
    """The file's text, the encoding used, and warnings (see the module docstring for the rules)."""
    if not data.strip():
        raise ImportFileError("the file is empty: nothing to import (a list is never replaced by an empty file)")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data:
        raise ImportFileError("the file has NUL bytes: it is UTF-16 or not a text file; save it as UTF-8 text")
    try:
        return data.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start]
    for enc, name in (("cp1252", "Windows-1252"), ("latin-1", "Latin-1")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return text, enc, [f"the file is not UTF-8 (byte 0x{bad:02X} on line {line}); read it as {name}: "
                           "check accented letters in descriptions, or save the file as UTF-8"]
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _when(value: str, what: str) -> datetime | None:
    """RFC 3339 with Z or an offset, or a bare YYYY-MM-DD (midnight UTC); empty is None."""
    value = value.strip()
    if not value:
        return None
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        except ValueError:
            pass
    try:
        return from_rfc3339(value)
    except ValueError:
        raise HotlistError(f"{what} {value!r} is not a date (YYYY-MM-DD) or RFC 3339 time like 2026-11-30T04:21:07Z") from None


def _entry(list_id: str, fields: Mapping[str, str], source: str, now: datetime) -> Entry:
    plate = fields.get("plate", "").strip()
    if not plate:
        raise HotlistError("no plate")
    entered_at = _when(fields.get("entered_at", ""), "entered_at") or now
    return synced_entry(list_id, plate, entered_by=fields.get("entered_by", "").strip() or source,
                        entered_at=entered_at, state=fields.get("state", ""), description=fields.get("description", ""),
                        reason=fields.get("reason", ""), case_number=fields.get("case_number", ""),
                        expires_at=_when(fields.get("expires_at", ""), "expires_at"))


class _Collector:
    def __init__(self, warnings: list[str], encoding: str) -> None:
        self.entries: list[Entry] = []
        self.lines = array("L")
        self.rejected: list[Rejected] = []
        self.warnings = warnings
        self.encoding = encoding

    def add(self, line: int, make: Callable[[], Entry], raw: str) -> None:
        try:
            self.entries.append(make())
            self.lines.append(line)
        except (HotlistError, ValueError, TypeError) as exc:
            self.rejected.append(Rejected(line, str(exc), raw[:_SHOWN]))

    def reject(self, line: int, reason: str, raw: str) -> None:
        self.rejected.append(Rejected(line, reason, raw[:_SHOWN]))

    def done(self) -> Parsed:
        if not self.entries:
            self.warnings.append("no entries were read from the file")
        if self.rejected:
            log.info("hotlist import: %d lines rejected", len(self.rejected))
        return Parsed(tuple(self.entries), self.lines, tuple(self.rejected), tuple(self.warnings), self.encoding)


def parse_csv(data: bytes, list_id: str, *, source: str, now: datetime,
              columns: Mapping[str, str] | None = None, delimiter: str = ",") -> Parsed:
    """A CSV with a header row; `columns` maps our field names (CSV_FIELDS) to the file's column names.

    Without `columns`, columns named like our fields are used and only `plate` is required;
    with it, every mapped column must exist. Header names compare case-insensitively.
    `source` is entered_by and `now` entered_at for rows that do not say (HL-1).
    """
    if columns is not None:
        unknown = sorted(set(columns) - set(CSV_FIELDS))
        if unknown:
            raise HotlistError(f"unknown field(s) {', '.join(unknown)} in the column mapping; fields are {', '.join(CSV_FIELDS)}")
        if "plate" not in columns:
            raise HotlistError("the column mapping needs 'plate'")
    text, enc, warnings = decode(data)
    rows = csv.reader(_lines_of(text), delimiter=delimiter)
    header = next(rows, None)
    if header is None or not any(h.strip() for h in header):
        raise ImportFileError("the CSV has no header row naming its columns")
    names = [h.strip().lower() for h in header]
    if len(set(names)) != len(names):
        raise ImportFileError(f"the CSV header repeats a column name: {header}")
    wanted = dict(columns) if columns is not None else {f: f for f in CSV_FIELDS if f in names}
    missing = [f"{ours} -> {theirs!r}" for ours, theirs in wanted.items() if theirs.strip().lower() not in names]
    if missing or "plate" not in wanted:
        raise ImportFileError(f"the CSV header has no column for {', '.join(missing) or 'plate'}; "
                              f"its columns are {', '.join(h.strip() for h in header)}")
    index = {ours: names.index(theirs.strip().lower()) for ours, theirs in wanted.items()}
    out = _Collector(warnings, enc)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            out.reject(rows.line_num, f"not valid CSV: {exc}", "")
            continue
        line = rows.line_num
        raw = delimiter.join(row)
        if not any(f.strip() for f in row):
            continue
        if len(row) != len(names):
            out.reject(line, f"has {len(row)} fields; the header has {len(names)}", raw)
            continue
        out.add(line, lambda: _entry(list_id, {k: row[i] for k, i in index.items()}, source, now), raw)
    return out.done()


def _lines_of(text: str) -> Iterator[str]:
    """The text's lines with their endings, one at a time (a list of a million lines costs ~60 MB more)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _fixed_fields(line: str) -> dict[str, str]:
    return {code: line[a - 1:b].strip() for code, a, b, _ in FIXED_WIDTH_LAYOUT}


def _fixed_entry(list_id: str, line: str, source: str, now: datetime) -> Entry:
    if "\t" in line:
        raise HotlistError("has a tab: fixed-width records are padded with spaces")
    if len(line) < FIXED_WIDTH_MIN_LENGTH:
        raise HotlistError(f"is {len(line)} characters; a record needs at least {FIXED_WIDTH_MIN_LENGTH} (through DOT)")
    f = _fixed_fields(line)
    kind = _RECORD_TYPES.get(f["RTY"])
    if kind is None:
        raise HotlistError(f"record type {f['RTY']!r} is not SV (stolen vehicle) or SP (stolen licence plate)")
    if not f["LIC"]:
        raise HotlistError("LIC (plate) is blank: a record without a plate cannot be matched by a plate reader")
    if not f["NIC"]:
        raise HotlistError("NIC is blank: every record needs its NCIC number")
    try:
        stolen = datetime.strptime(f["DOT"], "%Y%m%d").date()
    except ValueError:
        raise HotlistError(f"DOT {f['DOT']!r} is not a date YYYYMMDD") from None
    vehicle = " ".join(x for x in (f["VYR"], f["VMA"], f["VMO"], f["VCO"]) if x)
    parts = [vehicle, f"VIN {f['VIN']}" if f["VIN"] else "",
             " ".join(x for x in ("plate", f["LIY"], f["LIT"]) if x) if f["LIY"] or f["LIT"] else ""]
    return synced_entry(list_id, f["LIC"], entered_by=f["ORI"] or source, entered_at=now, state=f["LIS"],
                        description=", ".join(p for p in parts if p), case_number=f["NIC"],
                        reason=f"NCIC {kind}, stolen {stolen.isoformat()}")


def parse_fixed_width(data: bytes, list_id: str, *, source: str, now: datetime) -> Parsed:
    """Our accepted NCIC-style extract (FIXED_WIDTH_LAYOUT); blank lines and lines starting with # are skipped."""
    text, enc, warnings = decode(data)
    out = _Collector(warnings, enc)
    for n, line in enumerate(_lines_of(text), 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        out.add(n, lambda: _fixed_entry(list_id, line, source, now), line)
    return out.done()


_JSON_KEYS = frozenset(CSV_FIELDS)


def _json_entry(list_id: str, obj: object, source: str, now: datetime, unknown: set[str]) -> Entry:
    if not isinstance(obj, dict):
        raise HotlistError(f"is a JSON {type(obj).__name__}; each entry must be an object with at least \"plate\"")
    unknown.update(k for k in obj if k not in _JSON_KEYS)
    fields = {}
    for k in _JSON_KEYS & obj.keys():
        v = obj[k]
        if v is not None and not isinstance(v, str):
            raise HotlistError(f"\"{k}\" must be a string or null; got {json.dumps(v)[:40]}")
        fields[k] = v or ""
    return _entry(list_id, fields, source, now)


def parse_json(data: bytes, list_id: str, *, source: str, now: datetime) -> Parsed:
    """The hub's JSON: an array of entry objects, or an object whose "entries" is that array.

    Entry object: {"plate": "7ABC123" (required; a pattern may use ? and *), "state": "CA",
    "description": "...", "reason": "...", "case_number": "...", "entered_by": "...",
    "entered_at": RFC 3339, "expires_at": RFC 3339 or null}; all but plate optional or
    null. Unknown keys are ignored with one warning (the hub may add fields). Each entry
    is reported by the line its object starts on.
    """
    text, enc, warnings = decode(data)
    dec = json.JSONDecoder()
    try:
        start = _array_start(text, dec)
    except json.JSONDecodeError as exc:
        raise ImportFileError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    out = _Collector(warnings, enc)
    unknown: set[str] = set()
    pos, line, counted = start, 1 + text.count("\n", 0, start), start
    while True:
        pos = _skip(text, pos)
        if pos < len(text) and text[pos] == "]":
            break
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}; "
                                  "nothing was imported") from None
        line += text.count("\n", counted, pos)
        counted = pos
        out.add(line, lambda: _json_entry(list_id, obj, source, now, unknown), text[pos:end])
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos >= len(text) or text[pos] != "]":
            raise ImportFileError(f"not valid JSON: expected , or ] at line {1 + text.count(chr(10), 0, pos)}; "
                                  "nothing was imported")
    if unknown:
        out.warnings.append(f"ignored unknown entry field(s): {', '.join(sorted(unknown))}")
    return out.done()


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_start(text: str, dec: json.JSONDecoder) -> int:
    """Index just past the "[" of the entries array (top level, or the value of "entries")."""
    doc = dec.decode(text)  # the whole file must be valid JSON before anything is imported
    pos = _skip(text, 0)
    if isinstance(doc, list):
        return pos + 1
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise ImportFileError("the JSON must be an array of entries or an object with an \"entries\" array")
    pos += 1  # past "{": walk the top-level members to find where "entries" starts
    while True:
        key, pos = dec.raw_decode(text, _skip(text, pos))
        pos = _skip(text, pos) + 1  # past ":"
        pos = _skip(text, pos)
        if key == "entries":
            return pos + 1
        _, pos = dec.raw_decode(text, pos)
        pos = _skip(text, pos) + 1  # past ","


FORMATS = {"csv": parse_csv, "ncic": parse_fixed_width, "json": parse_json}


def _key(e: Entry) -> tuple[str, str, str]:
    return (e.plate, e.state, e.case_number)


def replace_list(old_entries: Sequence[Entry], new_entries: Sequence[Entry] | Parsed, *,
                 allow_empty: bool = False) -> ImportResult:
    """The list after an import replaces it: which entries are added, removed, changed or kept.

    Entries are the same when plate, state and case number agree; a kept or changed entry
    keeps its old id (alerts refer to it), a kept one also its old entered_at. An empty
    import never empties a non-empty list unless `allow_empty` says so.
    """
    rejected: tuple[Rejected, ...] = ()
    warnings: tuple[str, ...] = ()
    if isinstance(new_entries, Parsed):
        rejected, warnings, new_entries = new_entries.rejected, new_entries.warnings, new_entries.entries
    if not new_entries and old_entries and not allow_empty:
        raise ImportFileError(f"the import has no entries and would remove all {len(old_entries)} of the list; "
                              "nothing was changed (clear a list explicitly instead)")
    pool: dict[tuple[str, str, str], list[Entry]] = {}
    for e in old_entries:
        pool.setdefault(_key(e), []).append(e)
    out: list[Entry] = []
    added = changed = kept = 0
    for e in new_entries:
        olds = pool.get(_key(e))
        if not olds:
            added += 1
            out.append(e)
            continue
        old = olds.pop(0)
        same = (e.description, e.reason, e.expires_at) == (old.description, old.reason, old.expires_at)
        if same:
            kept += 1
            out.append(replace(e, id=old.id, list_id=old.list_id, entered_at=old.entered_at, entered_by=old.entered_by))
        else:
            changed += 1
            out.append(replace(e, id=old.id, list_id=old.list_id))
    removed = sum(len(v) for v in pool.values())
    return ImportResult(tuple(out), added, removed, changed, kept, rejected, warnings)
