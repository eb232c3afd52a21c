"""Access records: append-only and hash-chained, so an edit, a deletion or a reordering shows.

Each record (POLICY LG-1) keeps its place in the chain (`n`, 1, 2, 3 ...), the hash of the
record before it (`prev_hash`; the first record has `GENESIS`) and its own `hash`: SHA-256
over the canonical JSON (sorted keys, no spaces, UTF-8) of all its fields and `prev_hash`.
Changing any field breaks that record's hash; deleting or moving one breaks the next
record's `prev_hash` or the run of `n`. Triggers refuse UPDATE and DELETE, so the software
itself cannot change a record; the chain is what catches someone who drops the triggers
with the database key in hand. A supervisor's review of an exigent search is a new record,
never a change to the old one.

`append` works inside the caller's transaction (a savepoint), so a record and the action it
records commit together, or neither does (LG-4: the caller refuses the action when append
raises). On its own it takes the write lock first (BEGIN IMMEDIATE): two writers never read
the same chain head. The last records can be cut off without a trace here; the copy the
hub keeps (outbox kind "access") and the purge anchors of LG-5 are what catch that.

The record enters the outbox (kind "access") in that same savepoint, so it goes to the hub
like a read (LG-3). Its place in the chain is its outbox seq: the hub sees a missing record
as a gap, and the pull API's cursor is the same number.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from peewee import Database

from appliance.ids import uuid7
from appliance.store import outbox
from appliance.store.times import from_rfc3339

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# POLICY LG-2's purpose categories, plus the two that are not searches.
PURPOSES = ("criminal investigation", "civil or administrative investigation", "hotlist alert follow-up",
            "missing or endangered person", "audit of the system", "exigent circumstances")
LIVE_MONITORING = "live monitoring"
SECURITY_EVENT = "security event"  # LG-6: sign-ins, failures, lockouts, MFA changes, tamper
REVIEW = "exigent review"  # a supervisor's review of an exigent search (review.py)
OTHER_PURPOSES = (LIVE_MONITORING, "hub pull", "image view", "audit review", "read view", "alert acknowledgement",
                  "hotlist change", "purge override", SECURITY_EVENT, REVIEW)
OUTCOMES = ("ok", "refused", "error")
MAX_IDS = 1000
_COLUMNS = ("id", "at", "username", "agency", "action", "query", "purpose_category", "purpose_text", "case_number",
            "client", "outcome", "result_count", "result_ids", "review")


@dataclass(frozen=True)
class AccessRecord:
    """One access to plate data, as LG-1 lists its fields; `query` holds every query term given."""

    username: str
    action: str  # search, read view, image view, live monitoring, hub pull, export ...
    client: str  # the client's address (or "cli")
    purpose_category: str
    purpose_text: str = ""
    case_number: str = ""
    agency: str = ""  # the agency's ORI
    query: Mapping[str, Any] = field(default_factory=dict)
    outcome: str = "ok"
    result_ids: Sequence[str] = ()
    result_count: int | None = None  # defaults to len(result_ids)
    review: str = ""  # "required": an exigent search waits for a supervisor's review
    at: datetime | None = None  # default: now


@dataclass(frozen=True)
class StoredRecord:
    """A record as the chain holds it: its fields, place and hashes."""

    n: int
    id: str
    at: str  # RFC 3339 UTC with hundredths of a second (or finer)
    username: str
    agency: str
    action: str
    query: dict
    purpose_category: str
    purpose_text: str
    case_number: str
    client: str
    outcome: str
    result_count: int
    result_ids: list
    review: str
    prev_hash: str
    hash: str


def at_text(t: datetime) -> str:
    """"2026-12-01T09:00:00.123456Z": UTC to the microsecond (LG-1 asks for 0.01 s at least)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"an access record's time must be timezone-aware (UTC); got naive {t.isoformat()}")
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(fields: Mapping[str, Any], n: int, prev_hash: str) -> str:
    """SHA-256 (hex) of the canonical JSON of a record's fields, its place and the previous hash."""
    body = {**{k: fields[k] for k in _COLUMNS}, "n": n, "prev_hash": prev_hash}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _fields(record: AccessRecord) -> dict[str, Any]:
    """The columns of `record`, checked: a record with a field missing is refused, never written."""
    if not isinstance(record, AccessRecord):
        raise TypeError(f"append needs an AccessRecord; got {type(record).__name__}")
    for name in ("username", "action", "client", "purpose_category"):
        if not isinstance(getattr(record, name), str) or not getattr(record, name).strip():
            raise ValueError(f"an access record needs a {name.replace('_', ' ')} (LG-1); got {getattr(record, name)!r}")
    if record.purpose_category not in PURPOSES + OTHER_PURPOSES:
        raise ValueError(f"purpose category must be one of {', '.join(PURPOSES + OTHER_PURPOSES)}; "
                         f"got {record.purpose_category!r}")
    if record.outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}; got {record.outcome!r}")
    ids = [str(i) for i in record.result_ids]
    if len(ids) > MAX_IDS:
        raise ValueError(f"an access record lists at most {MAX_IDS} ids; got {len(ids)}")
    count = len(ids) if record.result_count is None else record.result_count
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValueError(f"result count must be a whole number >= 0; got {count!r}")
    query = json.loads(json.dumps(dict(record.query), default=str))  # plain JSON types, as the hash sees them
    return {"id": str(uuid7()), "at": at_text(record.at or datetime.now(timezone.utc)),
            "username": record.username, "agency": record.agency, "action": record.action, "query": query,
            "purpose_category": record.purpose_category, "purpose_text": record.purpose_text,
            "case_number": record.case_number, "client": record.client, "outcome": record.outcome,
            "result_count": count, "result_ids": ids, "review": record.review}


def _database(store_or_db: Any) -> Database:
    return store_or_db if isinstance(store_or_db, Database) else store_or_db.database


def append(store_or_db: Any, record: AccessRecord) -> StoredRecord:
    """Add `record` at the head of the chain, in the caller's transaction if one is open; raises if it cannot."""
    db = _database(store_or_db)
    fields = _fields(record)
    with db.atomic("IMMEDIATE"):  # a savepoint inside the caller's transaction; else the write lock first
        head = db.execute_sql("SELECT n, hash FROM access_records ORDER BY n DESC LIMIT 1").fetchone()
        n, prev = (1, GENESIS) if head is None else (head[0] + 1, head[1])
        h = digest(fields, n, prev)
        row = {**fields, "query": _json(fields["query"]), "result_ids": _json(fields["result_ids"])}
        db.execute_sql(f"INSERT INTO access_records (n, {', '.join(_COLUMNS)}, prev_hash, hash) "
                       f"VALUES ({', '.join('?' * (len(_COLUMNS) + 3))})",
                       (n, *(row[c] for c in _COLUMNS), prev, h))
        stored = StoredRecord(n=n, **fields, prev_hash=prev, hash=h)
        db.execute_sql("UPDATE outbox_seq SET last = ? WHERE kind = 'access'", (n,))  # seq = place in the chain
        outbox.enqueue(db, "access", [(stored.id, n)], fields["at"], [as_dict(stored)])
    return stored


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _rows(db: Database, sql: str, params: Sequence[Any] = ()) -> Iterator[StoredRecord]:
    cursor = db.execute_sql(sql, params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        r = dict(zip(names, values))
        yield StoredRecord(**{**r, "query": json.loads(r["query"]), "result_ids": json.loads(r["result_ids"])})


_SELECT = f"SELECT n, {', '.join(_COLUMNS)}, prev_hash, hash FROM access_records"


def latest(store_or_db: Any, limit: int = 100, *, username: str | None = None) -> list[StoredRecord]:
    """The newest records first, optionally one user's."""
    if not isinstance(limit, int) or not 1 <= limit <= 10000:
        raise ValueError(f"limit must be a whole number from 1 to 10000; got {limit!r}")
    where, params = ("WHERE username = ? ", [username]) if username is not None else ("", [])
    return list(_rows(_database(store_or_db), f"{_SELECT} {where}ORDER BY n DESC LIMIT ?", [*params, limit]))


def records_after(store_or_db: Any, n: int, limit: int = 100) -> list[StoredRecord]:
    """Records whose place in the chain is above `n`, in chain order (the hub pull API's pages)."""
    if not isinstance(limit, int) or not 1 <= limit <= 10000:
        raise ValueError(f"limit must be a whole number from 1 to 10000; got {limit!r}")
    return list(_rows(_database(store_or_db), f"{_SELECT} WHERE n > ? ORDER BY n LIMIT ?", [n, limit]))


def get(store_or_db: Any, record_id: str) -> StoredRecord | None:
    """The record with this id, or None."""
    return next(_rows(_database(store_or_db), f"{_SELECT} WHERE id = ?", [record_id]), None)


def all_records(store_or_db: Any) -> Iterator[StoredRecord]:
    """Every record in chain order (oldest first)."""
    return _rows(_database(store_or_db), f"{_SELECT} ORDER BY n")


def searches_between(store_or_db: Any, since: datetime, until: datetime) -> Iterator[StoredRecord]:
    """The search records with since <= at < until, in chain order: the audit report's period, chosen in SQL.

    `at` is stored as fixed-width UTC text (at_text), so comparing the text compares the times.
    """
    return _rows(_database(store_or_db), f"{_SELECT} WHERE action = 'search' AND at >= ? AND at < ? ORDER BY n",
                 [at_text(since), at_text(until)])


def verify(store_or_db: Any, public_key: Any = None) -> tuple[bool, str | None, str]:
    """(intact, id of the first bad record or None, why): walks the chain from the first record.

    After a purge of old records (LG-5) it starts from the newest signed anchor, checked
    against the device's public key (`public_key`, default the key folder's: anchors.py).
    """
    walk = verify_walk(store_or_db, public_key)
    return walk.intact, walk.bad, walk.why


@dataclass(frozen=True)
class Walk:
    """What a walk of the chain found; `n` and `hash` are the last good record's (where a later walk resumes)."""

    intact: bool
    bad: str | None
    why: str
    anchor_n: int
    n: int
    hash: str
    count: int


def verify_walk(store_or_db: Any, public_key: Any = None, resume: Walk | None = None) -> Walk:
    """`verify`, or with `resume` (an intact earlier walk from the same anchor) only the records after it.

    Resuming checks that the first newer record links to the last one walked, so a record
    appended out of chain is still caught; what the earlier walk covered is not read again.
    """
    from appliance.audit import anchors  # anchors builds on this module
    db = _database(store_or_db)
    anchor_n, prev, bad, why = anchors.start(db, public_key)
    if bad is not None:
        return Walk(False, bad, why, anchor_n, anchor_n, prev, 0)
    start_n, count, after = anchor_n, 0, -1  # a whole walk reads every row: one inserted before the anchor is caught
    if resume is not None and resume.intact and resume.anchor_n == anchor_n:
        start_n, prev, count = resume.n, resume.hash, resume.count
        after = start_n
    cursor = db.execute_sql(f"SELECT n, {', '.join(_COLUMNS)}, prev_hash, hash FROM access_records "
                            "WHERE n > ? ORDER BY n", (after,))
    names = [d[0] for d in cursor.description]
    expected_n = start_n + 1
    for values in cursor:
        r = dict(zip(names, values))
        problem = _problem(r, expected_n, anchor_n, prev)
        if problem is not None:
            return Walk(False, r["id"], problem, anchor_n, expected_n - 1, prev, count)
        expected_n, prev, count = expected_n + 1, r["hash"], count + 1
    since = f" from the signed purge anchor at record {anchor_n}" if anchor_n else ""
    return Walk(True, None, f"{count} access records{since}, chain intact", anchor_n, expected_n - 1, prev, count)


def _problem(r: dict[str, Any], expected_n: int, anchor_n: int, prev: str) -> str | None:
    """Why record `r` breaks the chain where record `expected_n` should follow `prev`, or None."""
    where = f"record {r['id']} (number {r['n']})"
    if r["n"] < expected_n:
        return f"{where}: it lies before the purge anchor at record {anchor_n} (inserted)"
    if r["n"] != expected_n:
        gap = f"record {expected_n} is" if r["n"] == expected_n + 1 else f"records {expected_n} to {r['n'] - 1} are"
        return f"{where}: {gap} missing (deleted)"
    if r["prev_hash"] != prev:
        return (f"{where}: its previous-record hash does not match record {expected_n - 1}: "
                "a record before it was deleted, replaced or moved")
    try:
        fields = {**r, "query": json.loads(r["query"]), "result_ids": json.loads(r["result_ids"])}
        from_rfc3339(r["at"])
    except (ValueError, TypeError):
        return f"{where}: its stored fields are not well-formed (edited)"
    if digest(fields, r["n"], r["prev_hash"]) != r["hash"]:
        return f"{where}: its contents do not match its hash (edited or moved)"
    return None


def as_dict(record: StoredRecord) -> dict[str, Any]:
    """The record as plain JSON types (CSV export, the hub)."""
    return asdict(record)
