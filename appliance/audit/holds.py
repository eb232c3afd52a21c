"""Legal holds (POLICY RT-3): reads kept past their period for a case until someone releases them.

A hold names its case, the purpose category, why (reason) and who asked (requester), who
placed it and when, and the reads it keeps: an explicit list (legal_hold_reads), chosen from
search results or a read's page, so what is held never changes behind the holder's back.
While any active hold names a read, the read's `hold` flag is set and every purge passes it
by (purge.py: `hold = 0` in each of its selections), images included. Release records who and
when; the flag is cleared on the reads no other active hold names, and they go with the next
purge once past their period. Placing and releasing each write an access record in the same
transaction (LG-1, LG-4): no record, no hold change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from peewee import Database

from appliance.audit import records
from appliance.audit.purpose import CASE, EXIGENT
from appliance.audit.records import AccessRecord, at_text
from appliance.errors import EvidenceError
from appliance.ids import uuid7

log = logging.getLogger(__name__)

MIN_REASON = 10
MAX_TEXT = 500
MAX_READS = records.MAX_IDS  # the access record lists every read held
HOLD_PURPOSES = tuple(p for p in records.PURPOSES if p != EXIGENT)
_COLS = ("id, case_number, purpose_category, reason, requester, placed_by, placed_at, released_by, released_at, "
         "release_reason")


@dataclass(frozen=True)
class Actor:
    """Who acts, for the access record: a signed-in user (or the CLI's authenticated user)."""

    username: str
    client: str  # the client's address, or "cli"
    agency: str = ""


@dataclass(frozen=True)
class Hold:
    """One legal hold as stored; `released_at` None while it is active."""

    id: str
    case_number: str
    purpose_category: str
    reason: str
    requester: str
    placed_by: str
    placed_at: str
    released_by: str | None
    released_at: str | None
    release_reason: str | None
    read_ids: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.released_at is None


def _db(store_or_db) -> Database:
    return store_or_db if isinstance(store_or_db, Database) else store_or_db.database


def check_case(case: str) -> str:
    """The case number stripped, or EvidenceError saying what a case number may be."""
    case = (case or "").strip()
    if not CASE.fullmatch(case):
        raise EvidenceError(f"a case number is 3-40 letters, digits, spaces or . _ / # -, starting with a letter or "
                            f"digit; got {case!r}")
    return case


def check_text(name: str, value: str, least: int = 1) -> str:
    """`value` stripped, or EvidenceError saying how long it must be."""
    value = (value or "").strip()
    if not least <= len(value) <= MAX_TEXT:
        raise EvidenceError(f"the {name} must be {least} to {MAX_TEXT} characters; got {len(value)}")
    return value


def place(store_or_db, *, case_number: str, reason: str, requester: str, read_ids: Sequence[str], actor: Actor,
          purpose_category: str = "criminal investigation", now: datetime | None = None) -> Hold:
    """Hold `read_ids` for a case; the access record is written in the same transaction (or nothing is)."""
    db = _db(store_or_db)
    case = check_case(case_number)
    reason, requester = check_text("reason", reason, MIN_REASON), check_text("requester", requester)
    if purpose_category not in HOLD_PURPOSES:
        raise EvidenceError(f"purpose category must be one of {', '.join(HOLD_PURPOSES)}; got {purpose_category!r}")
    ids = list(dict.fromkeys(str(i) for i in read_ids))
    if not 1 <= len(ids) <= MAX_READS:
        raise EvidenceError(f"a legal hold names 1 to {MAX_READS} reads; got {len(ids)}")
    now = now or datetime.now(timezone.utc)
    hold_id = str(uuid7(int(now.timestamp() * 1000)))
    with db.atomic("IMMEDIATE"):
        missing = [i for i in ids if db.execute_sql("SELECT 1 FROM reads WHERE id = ?", (i,)).fetchone() is None]
        if missing:
            raise EvidenceError(f"no such read in the store (purged, or a wrong id): {', '.join(missing[:5])}")
        db.execute_sql(f"INSERT INTO legal_holds ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                       (hold_id, case, purpose_category, reason, requester, actor.username, at_text(now)))
        for i in ids:
            db.execute_sql("INSERT INTO legal_hold_reads (hold_id, read_id) VALUES (?, ?)", (hold_id, i))
            db.execute_sql("UPDATE reads SET hold = 1 WHERE id = ?", (i,))
        records.append(db, AccessRecord(username=actor.username, agency=actor.agency, client=actor.client,
                                        action="legal hold placed", purpose_category=purpose_category,
                                        purpose_text=reason, case_number=case, at=now, result_ids=ids,
                                        query={"hold": hold_id, "requester": requester}))
    log.info("legal hold %s placed on %d reads by %s", hold_id, len(ids), actor.username)
    return get(db, hold_id)


def release(store_or_db, hold_id: str, *, reason: str, actor: Actor, now: datetime | None = None) -> Hold:
    """End a hold: who and when are kept; reads no other active hold names may be purged again."""
    db = _db(store_or_db)
    reason = check_text("release reason", reason, MIN_REASON)
    now = now or datetime.now(timezone.utc)
    with db.atomic("IMMEDIATE"):
        hold = get(db, hold_id)
        if hold is None:
            raise EvidenceError(f"there is no legal hold {hold_id!r}")
        if not hold.active:
            raise EvidenceError(f"legal hold {hold_id} was already released by {hold.released_by} at "
                                f"{hold.released_at}")
        db.execute_sql("UPDATE legal_holds SET released_by = ?, released_at = ?, release_reason = ? WHERE id = ?",
                       (actor.username, at_text(now), reason, hold_id))
        for i in hold.read_ids:  # still held by another active hold: keep the flag
            db.execute_sql("UPDATE reads SET hold = EXISTS (SELECT 1 FROM legal_hold_reads l JOIN legal_holds h "
                           "ON h.id = l.hold_id WHERE l.read_id = ? AND h.released_at IS NULL) WHERE id = ?", (i, i))
        records.append(db, AccessRecord(username=actor.username, agency=actor.agency, client=actor.client,
                                        action="legal hold released", purpose_category=hold.purpose_category,
                                        purpose_text=reason, case_number=hold.case_number, at=now,
                                        result_ids=list(hold.read_ids), query={"hold": hold_id}))
    log.info("legal hold %s released by %s", hold_id, actor.username)
    return get(db, hold_id)


def _hold(db: Database, row: tuple) -> Hold:
    ids = tuple(r[0] for r in db.execute_sql("SELECT read_id FROM legal_hold_reads WHERE hold_id = ? ORDER BY read_id",
                                             (row[0],)))
    return Hold(*row, read_ids=ids)


def get(store_or_db, hold_id: str) -> Hold | None:
    """The hold with this id, or None."""
    db = _db(store_or_db)
    row = db.execute_sql(f"SELECT {_COLS} FROM legal_holds WHERE id = ?", (hold_id,)).fetchone()
    return None if row is None else _hold(db, row)


def list_holds(store_or_db, *, active: bool | None = None, case_number: str | None = None,
               limit: int = 500) -> list[Hold]:
    """Holds, newest first: all, only active (True) or only released (False), optionally of one case."""
    db = _db(store_or_db)
    where, params = [], []
    if active is not None:
        where.append("released_at IS NULL" if active else "released_at IS NOT NULL")
    if case_number is not None:
        where.append("case_number = ?")
        params.append(case_number)
    sql = f"SELECT {_COLS} FROM legal_holds {'WHERE ' + ' AND '.join(where) if where else ''} " \
          "ORDER BY placed_at DESC, id DESC LIMIT ?"
    return [_hold(db, r) for r in db.execute_sql(sql, (*params, limit)).fetchall()]


def holds_of_read(store_or_db, read_id: str) -> list[Hold]:
    """The active holds naming a read (its detail page shows them)."""
    db = _db(store_or_db)
    rows = db.execute_sql(f"SELECT {', '.join('h.' + c.strip() for c in _COLS.split(','))} FROM legal_holds h "
                          "JOIN legal_hold_reads l ON l.hold_id = h.id WHERE l.read_id = ? AND h.released_at IS NULL "
                          "ORDER BY h.placed_at", (read_id,)).fetchall()
    return [_hold(db, r) for r in rows]
