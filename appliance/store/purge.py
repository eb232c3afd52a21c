"""The purges themselves: retention (RT-1, RT-2) and the disk watermark, on the store's database.

Each batch is one transaction that deletes (or strips the image keys of) up to `BATCH`
reads and adds its counts to the run's purge record, so the record always matches what
was deleted, even when power is cut between batches (finished_at stays NULL then).
Image files are unlinked after their batch commits: the wrapped key in the row is what
makes a file readable, and with secure_delete on SQLite zeroes it where it lay, so the
image is gone at the commit (crypto-shredding; on flash the file's blocks may linger,
as ciphertext nobody can open). A cut between the commit and the unlink leaves keyless
ciphertext files: unreadable, harmless, and their day folders go with a later purge.

At the end a TRUNCATE checkpoint folds the WAL into the database file so old page
versions holding deleted rows do not stay in the -wal file (they are SQLCipher-encrypted
there anyway); with a reader open it may not truncate, which is logged, not an error.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from peewee import Database

from appliance.ids import uuid7
from appliance.store import outbox
from appliance.store.retention import DiskUsage, PurgeReport, RetentionPolicy, Watermarks
from appliance.store.times import from_rfc3339, to_rfc3339

log = logging.getLogger(__name__)

BATCH = 5000  # reads per transaction: fewer commits rewrite the same index pages fewer times
CAPACITY_BATCH = 200
_ID_CHUNK = 500  # ids per IN (...) list, far under SQLite's variable limit
_COLS = "id, crop_file, frame_file, crop_key IS NOT NULL, frame_key IS NOT NULL, last_seen"
_ID, _CROP, _FRAME, _HAS_CROP, _HAS_FRAME, _LAST_SEEN = range(6)


def retention(db: Database, folder: Path, now: datetime, policy: RetentionPolicy) -> PurgeReport:
    """Delete confirmed, unheld reads past their period, and non-hit images past theirs; record the run."""
    started = time.monotonic()
    cut = policy.cutoffs(now)
    record = _start(db, "retention", now, {"policy": {"non_hit_days": policy.non_hit_days,
                                                      "image_days": policy.image_days,
                                                      "hit_days": policy.hit_days}, "cutoffs": cut})
    for hit, before in ((0, cut["non_hit"]), (1, cut["hit"])):
        for rows in _batches(db, "confirmed_at", f"hit = {hit} AND hold = 0 AND confirmed_at < ?", (before,), BATCH):
            _delete_reads(db, folder, rows, record)
    image_where = "hit = 0 AND hold = 0 AND confirmed_at < ? AND (crop_key IS NOT NULL OR frame_key IS NOT NULL)"
    for rows in _batches(db, "confirmed_at", image_where, (cut["image"],), BATCH):
        _shred_images(db, folder, rows, record, "retention", list_items=False)
    _finish(db, record, now + timedelta(seconds=time.monotonic() - started))
    checkpoint(db)
    report = load(db, record)
    log.info("%s", report)
    return report


def capacity(db: Database, folder: Path, now: datetime, marks: Watermarks,
             disk_usage: DiskUsage) -> tuple[PurgeReport | None, float]:
    """Above the high watermark, destroy images of non-hit, unheld reads oldest-first until below the low one.

    Reads the hub confirmed go first, then the rest, never their metadata. Returns the
    run's record (None when the disk was below the high watermark) and the use it ended at.
    """
    use = _use(disk_usage)
    if use < marks.high:
        return None, use
    started = time.monotonic()
    record = _start(db, "capacity", now, {"high": marks.high, "low": marks.low, "use_before": round(use, 4)})
    overridden: list[str] = []
    for confirmed in ("NOT NULL", "NULL"):
        if use < marks.low:
            break
        use = _shred_oldest(db, folder, record, f"confirmed_at IS {confirmed}", marks, disk_usage, use,
                            overridden if confirmed == "NULL" else None)
    _set_detail(db, record, use_after=round(use, 4), reached_low=use < marks.low)
    _finish(db, record, now + timedelta(seconds=time.monotonic() - started))
    checkpoint(db)
    if overridden:  # after the run, when the room is made: a full disk cannot hold the purge up
        _record_override(db, record, "capacity", overridden)
    return load(db, record), use


def _shred_oldest(db: Database, folder: Path, record: str, which: str, marks: Watermarks,
                  disk_usage: DiskUsage, use: float, overridden: list[str] | None = None) -> float:
    """Strip images of `which` non-hit, unheld reads, oldest first, until the disk use is below `low`.

    Each batch takes only as many reads as the bytes still to free call for (their files'
    real sizes), so the purge stops near the low watermark instead of a batch beyond it.
    """
    cursor = ""
    while use >= marks.low:
        rows = db.execute_sql(f"SELECT {_COLS} FROM reads WHERE last_seen >= ? AND hit = 0 AND hold = 0 AND "
                              f"(crop_key IS NOT NULL OR frame_key IS NOT NULL) AND {which} "
                              "ORDER BY last_seen LIMIT ?", (cursor, CAPACITY_BATCH)).fetchall()
        if not rows:
            break
        used, total = disk_usage()
        need, take = used - marks.low * total, []
        for r in rows:
            take.append(r)
            need -= sum(_size(os.path.join(folder, rel)) for rel in _files(r))
            if need < 0:
                break
        _shred_images(db, folder, take, record, "capacity", list_items=True)
        if overridden is not None:  # not yet at the hub: a purge override (RT-1), recorded by the caller
            overridden.extend(r[_ID] for r in take)
        cursor = take[-1][_LAST_SEEN]  # the taken rows no longer match; the rest of the batch is still ahead
        use = _use(disk_usage)
    return use


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def confirm(db: Database, ids: list[str], at: datetime) -> int:
    """Set confirmed_at on the reads not confirmed before; return how many.

    A record the hub confirmed needs no sending: its outbox entry goes in the same
    transaction (else a later purge would leave its id behind in the outbox).
    """
    n = 0
    with db.atomic():
        for part, marks in _chunks(ids):
            # `+`: look the ids up by primary key, not every unconfirmed read by the confirmed_at index
            n += db.execute_sql(f"UPDATE reads SET confirmed_at = ? WHERE id IN ({marks}) AND +confirmed_at IS NULL",
                                (to_rfc3339(at), *part)).rowcount
            db.execute_sql(f"DELETE FROM outbox WHERE kind = 'read' AND id IN ({marks})", tuple(part))
    return n


def checkpoint(db: Database) -> None:
    busy, wal_pages, done = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.debug("after the purge the WAL could not be truncated (a reader is open): %d of %d pages", done, wal_pages)


def load(db: Database, record_id: str) -> PurgeReport:
    """A purge record as a report."""
    row = db.execute_sql("SELECT id, reason, started_at, finished_at, reads_deleted, images_deleted, oldest_read, "
                         "newest_read, detail FROM purge_records WHERE id = ?", (record_id,)).fetchone()
    items = [r[0] for r in db.execute_sql("SELECT read_id FROM purge_items WHERE purge_id = ? ORDER BY read_id",
                                          (record_id,))]
    t = [None if v is None else from_rfc3339(v) for v in (row[2], row[3], row[6], row[7])]
    return PurgeReport(row[0], row[1], t[0], t[1], row[4], row[5], t[2], t[3], json.loads(row[8]), tuple(items))


def records(db: Database, limit: int) -> list[PurgeReport]:
    """The latest purge runs, newest first (ids are uuid7: time-ordered)."""
    return [load(db, r[0]) for r in db.execute_sql("SELECT id FROM purge_records ORDER BY id DESC LIMIT ?", (limit,))]


def last_finished(db: Database, reason: str) -> datetime | None:
    """When the last finished purge for `reason` started, or None."""
    (t,) = db.execute_sql("SELECT max(started_at) FROM purge_records WHERE reason = ? AND finished_at IS NOT NULL",
                          (reason,)).fetchone()
    return None if t is None else from_rfc3339(t)


def _use(disk_usage: DiskUsage) -> float:
    used, total = disk_usage()
    if total <= 0:
        raise ValueError(f"disk usage must report a positive total size; got used={used}, total={total}")
    return used / total


def _start(db: Database, reason: str, now: datetime, detail: dict) -> str:
    record = uuid7(int(now.timestamp() * 1000))
    with db.atomic():
        db.execute_sql("INSERT INTO purge_records (id, reason, started_at, detail) VALUES (?, ?, ?, ?)",
                       (record, reason, to_rfc3339(now), json.dumps(detail, sort_keys=True)))
    return record


def _finish(db: Database, record: str, at: datetime) -> None:
    """End the run and, in the same transaction, put its record into the outbox for the hub (RT-2).

    A run cut short by a power cut never finishes and is not sent; its counts stay in the table.
    """
    with db.atomic():
        db.execute_sql("UPDATE purge_records SET finished_at = ? WHERE id = ?", (to_rfc3339(at), record))
        (seq,) = outbox.next_seqs(db, "purge", 1)
        db.execute_sql("UPDATE purge_records SET seq = ? WHERE id = ?", (seq, record))
        outbox.enqueue(db, "purge", [(record, seq)], at)


def _set_detail(db: Database, record: str, **more: object) -> None:
    (text,) = db.execute_sql("SELECT detail FROM purge_records WHERE id = ?", (record,)).fetchone()
    with db.atomic():
        db.execute_sql("UPDATE purge_records SET detail = ? WHERE id = ?",
                       (json.dumps({**json.loads(text), **more}, sort_keys=True), record))


def _batches(db: Database, order: str, where: str, params: tuple, size: int) -> Iterator[list[tuple]]:
    """Rows matching `where` by ascending `order`, in batches; a cursor on `order` keeps each batch
    from rescanning what earlier ones skipped. The caller must take every row it is given out
    of `where` (delete it, or strip its keys) or the loop would not advance."""
    cursor = ""
    while True:
        rows = db.execute_sql(f"SELECT {_COLS}, {order} FROM reads WHERE {order} >= ? AND {where} "
                              f"ORDER BY {order} LIMIT ?", (cursor, *params, size)).fetchall()
        if not rows:
            return
        yield rows
        cursor = rows[-1][-1]


def _chunks(ids: list[str]) -> Iterator[tuple[list[str], str]]:
    for i in range(0, len(ids), _ID_CHUNK):
        part = ids[i:i + _ID_CHUNK]
        yield part, ",".join("?" * len(part))


def _count(db: Database, record: str, reads: int, rows: list[tuple], images: int) -> None:
    times = [r[_LAST_SEEN] for r in rows]
    db.execute_sql("UPDATE purge_records SET reads_deleted = reads_deleted + ?, images_deleted = images_deleted + ?, "
                   "oldest_read = min(COALESCE(oldest_read, ?), ?), newest_read = max(COALESCE(newest_read, ?), ?) "
                   "WHERE id = ?", (reads, images, min(times), min(times), max(times), max(times), record))


def _delete_reads(db: Database, folder: Path, rows: list[tuple], record: str) -> None:
    """Delete whole reads; their wrapped image keys go with their rows (zeroed: secure_delete)."""
    with db.atomic():
        for part, marks in _chunks([r[_ID] for r in rows]):
            db.execute_sql(f"DELETE FROM reads WHERE id IN ({marks})", part)
        _count(db, record, len(rows), rows, sum(len(_files(r)) for r in rows))
    _unlink(folder, rows)


def _shred_images(db: Database, folder: Path, rows: list[tuple], record: str, why: str, list_items: bool) -> None:
    """NULL the wrapped keys of these reads' images (the metadata stays), say why, then delete the files."""
    with db.atomic():
        for part, marks in _chunks([r[_ID] for r in rows]):
            db.execute_sql("UPDATE reads SET crop_gone = CASE WHEN crop_key IS NULL THEN crop_gone ELSE ? END, "
                           "frame_gone = CASE WHEN frame_key IS NULL THEN frame_gone ELSE ? END, "
                           f"crop_key = NULL, frame_key = NULL WHERE id IN ({marks})", (why, why, *part))
        if list_items:
            db.execute_sql("INSERT INTO purge_items (purge_id, read_id, images) VALUES " +
                           ",".join("(?, ?, ?)" for _ in rows), [v for r in rows for v in (record, r[_ID], len(_files(r)))])
        _count(db, record, 0, rows, sum(len(_files(r)) for r in rows))
    _unlink(folder, rows)


def _record_override(db: Database, record: str, why: str, ids: list[str]) -> None:
    """The access record (LG-1) of images deleted before the hub had them (disk critically full, RT-1).

    Written once the capacity run has made room, in its own transaction: on a full disk the
    database cannot grow until files are gone, so the purge must not wait on it (purge_items,
    written in each batch's transaction, already lists every read); logged loudly if it fails.
    """
    from appliance.audit.records import AccessRecord, append  # audit imports the store: keep it lazy
    try:
        append(db, AccessRecord(username="system", action="purge override", client="device",
                                purpose_category="purge override", result_ids=ids,
                                query={"purge_id": record, "reason": why,
                                       "images": "of reads the hub has not confirmed: disk critically full"}))
    except Exception:
        log.exception("could not write the access record of purge override %s (%d reads; purge_items lists them)",
                      record, len(ids))


def _files(row: tuple) -> list[str]:
    """The image files a row still has a key for (the others were never written or are gone)."""
    return [rel for rel, has in ((row[_CROP], row[_HAS_CROP]), (row[_FRAME], row[_HAS_FRAME])) if has]


def _unlink(folder: Path, rows: list[tuple]) -> None:
    """Delete the files of images whose keys just went, then their day folders once empty.

    Plain os.path strings: a day's purge unlinks some 60,000 files and pathlib costs more than the syscall.
    """
    base, days = str(folder), set()
    for r in rows:
        for rel in _files(r):
            try:
                os.unlink(os.path.join(base, rel))
            except FileNotFoundError:
                pass
            days.add(os.path.dirname(rel))
    for day in days:  # an emptied day folder goes too; one still holding files stays
        try:
            os.rmdir(os.path.join(base, day))
        except OSError:
            pass
