"""The outbox: what the hub has not acknowledged yet, kept in the store's own database.

A record enters the outbox in the same transaction that stores it (reads: ingest.py;
purge records: purge.py), so a power cut can never leave a stored read the hub will not
get, nor an outbox entry for a read that was not stored. Each record carries its UUID
(the read's own id) and a sequence number per kind, increasing by one, handed out from
`outbox_seq` inside that transaction; the hub sees a gap when one is missing. The seq also
stays on the record itself (reads.seq, purge_records.seq): the pull API shows the same one.

Every write here starts with a write statement (`UPDATE outbox_seq`, `DELETE`), never with
a read: SQLite then takes the write lock at once, waiting out the busy timeout, instead of
failing a deferred transaction that read first and finds another writer got in between.
That is what lets the forwarder thread write its acknowledgements on its own connection
beside the pipeline's writer thread (and the web UI process), WAL mode serialising them.

Alerts go first (priority 0), everything else in the order it was stored (priority 1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from peewee import Database

from appliance.store.times import from_rfc3339, to_rfc3339

KINDS = ("read", "alert", "access", "purge", "heartbeat")
PRIORITY = {"alert": 0, "read": 1, "access": 1, "purge": 1, "heartbeat": 1}
_ID_CHUNK = 500
_ERROR_CHARS = 300


@dataclass(frozen=True)
class Entry:
    """One record waiting for the hub's acknowledgement."""

    id: str
    kind: str
    seq: int
    created_at: datetime
    attempts: int
    body: dict | None  # the fields of a kind with no table of its own (alert, access, heartbeat); else None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"outbox kind must be one of {', '.join(KINDS)}; got {kind!r}")


def next_seqs(db: Database, kind: str, count: int) -> list[int]:
    """Reserve `count` sequence numbers of `kind`; call inside the transaction that stores the records.

    The UPDATE comes first so the transaction holds the write lock before it reads the counter.
    """
    _check_kind(kind)
    if count <= 0:
        return []
    db.execute_sql("UPDATE outbox_seq SET last = last + ? WHERE kind = ?", (count, kind))
    (last,) = db.execute_sql("SELECT last FROM outbox_seq WHERE kind = ?", (kind,)).fetchone()
    return list(range(last - count + 1, last + 1))


def enqueue(db: Database, kind: str, items: Sequence[tuple[str, int]], created_at: datetime | str,
            bodies: Sequence[dict | None] | None = None) -> None:
    """Put (id, seq) records of `kind` into the outbox; call inside the transaction that stores them."""
    _check_kind(kind)
    at = created_at if isinstance(created_at, str) else to_rfc3339(created_at)
    bodies = bodies if bodies is not None else [None] * len(items)
    db.cursor().executemany(
        "INSERT INTO outbox (id, kind, seq, priority, created_at, body) VALUES (?, ?, ?, ?, ?, ?)",
        [(i, kind, s, PRIORITY[kind], at, None if b is None else json.dumps(b, sort_keys=True))
         for (i, s), b in zip(items, bodies)])


def add_record(db: Database, kind: str, record_id: str, body: dict, created_at: datetime) -> int:
    """One record of a kind without its own table (alert, access, heartbeat), in its own transaction; its seq."""
    with db.atomic():
        (seq,) = next_seqs(db, kind, 1)
        enqueue(db, kind, [(record_id, seq)], created_at, [body])
    return seq


def pending(db: Database, limit: int) -> list[Entry]:
    """The next `limit` records to send: alerts first, then the rest in the order they were stored."""
    rows = db.execute_sql("SELECT id, kind, seq, created_at, attempts, body FROM outbox ORDER BY priority, n LIMIT ?",
                          (limit,)).fetchall()
    return [Entry(r[0], r[1], r[2], from_rfc3339(r[3]), r[4], None if r[5] is None else json.loads(r[5]))
            for r in rows]


def acknowledge(db: Database, entries: Sequence[Entry], at: datetime) -> int:
    """The hub has these: take them out of the outbox and set the confirmation mark of their records.

    One transaction, so a record is never out of the outbox without its mark (retention
    counts its period from that mark) nor marked while still queued. Returns how many left.
    """
    when = to_rfc3339(at)
    gone = 0
    with db.atomic():
        for part, marks in _chunks([e.id for e in entries]):
            gone += db.execute_sql(f"DELETE FROM outbox WHERE id IN ({marks})", part).rowcount
        for table, kind in (("reads", "read"), ("purge_records", "purge")):
            ids = [e.id for e in entries if e.kind == kind]
            for part, marks in _chunks(ids):
                db.execute_sql(f"UPDATE {table} SET confirmed_at = ? WHERE id IN ({marks}) "
                               "AND +confirmed_at IS NULL", (when, *part))
    return gone


def note_failure(db: Database, ids: Sequence[str], error: str) -> None:
    """Count an attempt that was not acknowledged, with why (no plate text: callers pass status words only)."""
    with db.atomic():
        for part, marks in _chunks(list(ids)):
            db.execute_sql(f"UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id IN ({marks})",
                           (error[:_ERROR_CHARS], *part))


def drop(db: Database, ids: Sequence[str]) -> None:
    """Remove entries whose record no longer exists (the store was wiped under them)."""
    with db.atomic():
        for part, marks in _chunks(list(ids)):
            db.execute_sql(f"DELETE FROM outbox WHERE id IN ({marks})", part)


@dataclass(frozen=True)
class Backlog:
    """How much the hub has not acknowledged: for the health page and the heartbeat."""

    count: int
    oldest: datetime | None
    by_kind: dict[str, int]


def backlog(db: Database) -> Backlog:
    (count, oldest) = db.execute_sql("SELECT count(*), min(created_at) FROM outbox").fetchone()
    by_kind = {k: n for k, n in db.execute_sql("SELECT kind, count(*) FROM outbox GROUP BY kind")}
    return Backlog(int(count), None if oldest is None else from_rfc3339(oldest), by_kind)


def _chunks(ids: list[str]) -> Iterator[tuple[list[str], str]]:
    for i in range(0, len(ids), _ID_CHUNK):
        part = ids[i:i + _ID_CHUNK]
        yield part, ",".join("?" * len(part))
