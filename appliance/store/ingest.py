"""The write path of `Store.add_reads_batch`: check and seal in memory, write image files, insert rows.

Split out of store.py so the order that makes a power cut safe reads in one place:
every read is checked and its images encoded and sealed before any byte is written (a
bad read refuses the batch and writes nothing); image files are written durably next;
rows last, in one transaction. A full disk while writing images is not a failure of the
read: its row is stored with the images that did not fit marked "disk full" (the hub
must still get the metadata), and the caller raises the alarm. Crops go before frames,
so when space runs out mid-read the crop, the part that matters, is the one kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from peewee import Database

from appliance.errors import StoreError
from appliance.store import crypto, files, jpeg, outbox
from appliance.store.models import ReadRow
from appliance.store.rows import row_fields
from appliance.types import Read

INSERT_CHUNK = 1000
COLUMNS = [f.column_name for f in ReadRow._meta.sorted_fields]
_INSERT = f"INSERT INTO reads ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_ID_CHUNK = 500
# why an image is not there (reads.crop_gone / frame_gone)
GONE_REASONS = ("not kept", "not stored", "disk full", "capacity", "retention")


@dataclass
class Prepared:
    """One read on its way in: its row (filled in as images are written) and its sealed images."""

    row: dict
    sealed: list[tuple[str, bytes, bytes]]  # (kind, file bytes, wrapped key), crop first


def prepare(read: Read, hit: bool, stored_at: str, kek: bytes, *, images: bool, keep_frame: bool,
            frame_max_width: int) -> Prepared:
    """The read's checked row and its images sealed in memory; nothing touches the disk."""
    row = row_fields(read)
    day = row["first_seen"][:10]
    row.update(crop_file=f"images/{day}/{read.id}.crop.enc", frame_file=f"images/{day}/{read.id}.frame.enc",
               stored_at=stored_at, crop_key=None, frame_key=None, crop_damaged=False, frame_damaged=False,
               hit=bool(hit), hold=False, confirmed_at=None, crop_gone=None, frame_gone=None, seq=None)
    if not images:
        row.update(crop_gone="not stored", frame_gone="not stored")
        return Prepared(row, [])
    plain = [("crop", jpeg.encode(read.crop, "crop", 95))]
    if hit or keep_frame:
        plain.append(("frame", jpeg.encode(jpeg.downscale(read.frame, frame_max_width, "frame"), "frame", 85)))
    else:
        row["frame_gone"] = "not kept"  # store.keep_frame = false: a non-hit keeps its crop only (RT-1)
    return Prepared(row, [(kind, *crypto.seal(data, kek, crypto.image_aad(read.id, kind))) for kind, data in plain])


def refuse_duplicates(db: Database, ids: list[str]) -> None:
    """StoreError when an id is already stored or appears twice: its images would overwrite the first's."""
    dup = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
    for i in range(0, len(ids), _ID_CHUNK):
        part = ids[i:i + _ID_CHUNK]
        dup |= {r[0] for r in db.execute_sql(f"SELECT id FROM reads WHERE id IN ({','.join('?' * len(part))})", part)}
    if dup:
        raise StoreError(f"read {sorted(dup)[0]} is already stored; each read needs a new uuid7 id"
                         + (f" ({len(dup)} such ids in this batch)" if len(dup) > 1 else ""))


def write_images(folder: Path, incoming: Path, prepared: list[Prepared], written: list[Path], *,
                 room: bool = True) -> int:
    """Write every sealed image durably, noting each in `written`; after a full disk (or with
    room=False: images paused) mark the rest "disk full" instead; return how many were not written."""
    full = 0 if room else 1
    skipped = 0
    for p in prepared:
        for kind, blob, key in p.sealed:
            path = folder / p.row[f"{kind}_file"]
            if not full:
                try:
                    files.make_dir_durable(path.parent)
                    files.write_atomic(path, blob, incoming)
                    written.append(path)
                    p.row[f"{kind}_key"] = key
                    continue
                except OSError as e:
                    if not files.is_disk_full(e):
                        raise
            p.row[f"{kind}_gone"] = "disk full"
            full, skipped = full + 1, skipped + 1
    return skipped


def database_full(e: BaseException) -> bool:
    """Whether SQLite said "database or disk is full" (peewee may raise it chained under a failed rollback)."""
    while e is not None:
        if "database or disk is full" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def insert_rows(db: Database, prepared: list[Prepared]) -> None:
    """All rows and their outbox entries in one transaction (executemany: the bulk path runs at
    SQLCipher's own pace): a stored read is always on its way to the hub (outbox.py)."""
    with db.atomic():
        seqs = outbox.next_seqs(db, "read", len(prepared))  # first: takes the write lock (outbox.py)
        for p, seq in zip(prepared, seqs):
            p.row["seq"] = seq
        outbox.enqueue(db, "read", [(p.row["id"], p.row["seq"]) for p in prepared],
                       prepared[0].row["stored_at"] if prepared else "")
        cursor = db.cursor()
        for i in range(0, len(prepared), INSERT_CHUNK):
            cursor.executemany(_INSERT, [tuple(p.row[c] for c in COLUMNS) for p in prepared[i:i + INSERT_CHUNK]])
