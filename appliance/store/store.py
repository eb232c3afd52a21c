"""The local store: reads in SQLCipher (WAL), their crop and frame as encrypted files beside it.

Layout of a store folder (the master key lives elsewhere: keys.py)::

    FOLDER/alpr.db                               the encrypted database (reads, users, schema_version)
    FOLDER/images/YYYY-MM-DD/<id>.crop.enc       plate crop, JPEG sealed with AES-256-GCM (crypto.py)
    FOLDER/images/YYYY-MM-DD/<id>.frame.enc      the frame, downscaled, sealed the same way
    FOLDER/images/.incoming/                     temp files (ciphertext only) while writing

Order of `add_read` (ingest.py), so that a power cut never leaves a row pointing at a missing file:
1. encode the JPEGs and seal them in memory (a bad image fails here, nothing written;
   no plaintext pixel ever reaches the disk, not even a temp file);
2. write each ciphertext under a temp name, fsync it, rename it, fsync the folder;
3. only then insert the row (with the wrapped image keys) and commit.
A cut before 3 commits leaves image files with no row and no key: unreadable, harmless
(retention deletes day folders wholesale), never a row without files. An exception in 3
deletes the files. A full disk in 2 stores the row without the images that did not fit
(marked "disk full") and raises the alarm: the hub must still get the read.

Data leaves by the rules of retention.py (purge.py does the deleting); the hub link marks
what the hub has (`mark_confirmed`), nothing unconfirmed is purged, held reads stay.

One writer of reads: every read is written by one thread (the pipeline's writer thread); the
web UI's few writes (users, damaged marks, access records) and the hub forwarder's
acknowledgements (outbox.py, on the forwarder's own thread and connection) are short
transactions that start with a write, so the busy timeout serialises them (WAL). Readers on any thread or in another process read alongside
(WAL). Each thread gets its own connection (peewee's thread-local state); threads other
than the one that calls `close()` should call `disconnect()` when done (the web UI does
per request). Every open Store holds the folder's shared lock (locking.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from peewee import Database, OperationalError

from appliance.errors import StoreError
from appliance.store import admin, cipherdb, crypto, files, ingest, opening, outbox, purge, search
from appliance.store.crypto import ImageDamagedError
from appliance.store.diskfull import RESERVE_BYTES, RESERVE_NAME, DiskGuard
from appliance.store.keys import KeyProvider, LocalKeyFile, default_key_path
from appliance.store.locking import FolderLock
from appliance.store.models import ReadRow
from appliance.store.retention import DiskUsage, PurgeReport, RetentionPolicy, Watermarks, disk_usage_of
from appliance.store.rows import StoredRead, stored
from appliance.store.schema import current_version, migrate
from appliance.store.times import to_rfc3339
from appliance.types import Read

log = logging.getLogger(__name__)

DB_NAME = admin.DB_NAME
IMAGE_KINDS = ("crop", "frame")
MAX_LIMIT = 1000


class Store:
    """Reads and their images in one folder; open with `Store.open(folder, keys=...)`."""

    def __init__(self, folder: Path, database: Database, *, kek: bytes, lock: FolderLock | None = None,
                 frame_max_width: int = 1280, keep_frame: bool = True,
                 on_alarm: Callable[[str], None] | None = None, watermarks: Watermarks | None = None,
                 disk_usage: DiskUsage | None = None, reserve_bytes: int = RESERVE_BYTES) -> None:
        self.folder = folder
        self.database = database  # public so the web UI can open/close per-request connections
        self.frame_max_width = frame_max_width
        self.keep_frame = keep_frame  # False: non-hit reads keep their crop only (store.keep_frame)
        self.alarm: str | None = None  # the last alarm raised (disk full, capacity purge); None: none
        self._on_alarm = on_alarm
        self.watermarks = watermarks  # set: a full disk runs the capacity purge at once
        self._disk_usage = disk_usage
        self._reserve_bytes = reserve_bytes
        self._guard = DiskGuard(Path(os.devnull), 0)  # the real one is made in _start, once the folder exists
        self._kek = kek  # wraps each image's own key (crypto.py)
        # the folder of the master key file: the device's signing key lives beside it (audit/signing.py)
        self.key_folder = default_key_path().parent
        self._lock = lock
        self._images = folder / "images"
        self._incoming = self._images / ".incoming"
        self._closed = False

    @classmethod
    def open(cls, folder: Path, *, keys: KeyProvider | None = None, busy_timeout_s: float = 5.0,
             frame_max_width: int = 1280, check_integrity: bool = True, keep_frame: bool = True,
             on_alarm: Callable[[str], None] | None = None, watermarks: Watermarks | None = None,
             disk_usage: DiskUsage | None = None, reserve_bytes: int = RESERVE_BYTES) -> Store:
        """Open (creating if needed) the encrypted store in `folder`, unlocked by `keys`.

        `keys` defaults to the device's key file (keys.default_key_path). A v1 store is
        encrypted on the way (upgrade.py); an interrupted key rotation is finished or undone
        (admin.py); then the key is checked before anything else is written.
        """
        folder = Path(folder)
        keys = keys if keys is not None else LocalKeyFile()
        path, lock, master = opening.unlock(folder, keys, busy_timeout_s)
        try:
            db = cls._make_database(path, busy_timeout_s, crypto.database_key(master))
            store = cls(folder, db, kek=crypto.wrapping_key(master), lock=lock, frame_max_width=frame_max_width,
                        keep_frame=keep_frame, on_alarm=on_alarm, watermarks=watermarks, disk_usage=disk_usage,
                        reserve_bytes=reserve_bytes)
        except BaseException:
            lock.release()
            raise
        store.key_folder = Path(keys.path).parent
        try:
            store._start(check_integrity)
        except BaseException:
            store.close()
            raise
        return store

    def _start(self, check_integrity: bool) -> None:
        """Integrity check, folders, crash leftovers, schema migrations."""
        if check_integrity:
            problems = cipherdb.integrity_problems(self.database)
            if problems:
                raise StoreError(f"the store database in {self.folder} fails its integrity check "
                                 f"({len(problems)} problems, first: {problems[0]}); restore it from the hub")
        self._images.mkdir(exist_ok=True, mode=0o700)
        self._incoming.mkdir(exist_ok=True, mode=0o700)
        self._guard = DiskGuard(self._images / RESERVE_NAME, self._reserve_bytes)
        if self._guard.paused:
            self.raise_alarm(f"the disk holding {self.folder} is nearly full (no room for the store's reserve): "
                             "reads are stored without images until there is room")
        before = current_version(self.database)
        swept = files.sweep_temp_files(self._incoming)
        if swept:
            log.warning("removed %d half-written image files left by a crash in %s", swept, self._incoming)
        if migrate(self.database, str(self.folder)) != before:
            # fold the migrations into the main file: the WAL starts small, which matters most
            # when the disk later fills and only the reserve's room is left for metadata
            self.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    @staticmethod
    def _make_database(path: Path, busy_timeout_s: float, db_key: str) -> Database:
        """peewee on SQLCipher in WAL mode (cipherdb.make_database); the one place the database is made."""
        return cipherdb.make_database(path, db_key, busy_timeout_s)

    # -- writes (one writer thread) ------------------------------------------------------

    def add_read(self, read: Read, hit: bool = False) -> None:
        """Write the read's images durably, then its row (the order in the module docstring).

        A non-hit read keeps only its crop when the store was opened with keep_frame=False.
        A full disk keeps the read's metadata without the images that did not fit and raises
        the alarm (disk full is no reason to lose a read the hub has not received).
        """
        self.add_reads_batch([read], hits=[hit])

    def add_reads_batch(self, reads: Sequence[Read], *, hits: Sequence[bool] | None = None,
                        images: bool = True) -> int:
        """Store many reads in one transaction (images first, as `add_read`); return how many.

        `images=False` stores metadata only, each image marked "not stored" (a bulk import,
        the store benchmark). Every read is checked and its images sealed before anything is
        written; an id already stored, or twice in the batch, refuses the whole batch.
        """
        self._check_open()
        flags = [False] * len(reads) if hits is None else [bool(h) for h in hits]
        if len(flags) != len(reads):
            raise ValueError(f"hits must give one flag per read; got {len(flags)} for {len(reads)} reads")
        stored_at = to_rfc3339(datetime.now(timezone.utc))
        prepared = [ingest.prepare(r, h, stored_at, self._kek, images=images, keep_frame=self.keep_frame,
                                   frame_max_width=self.frame_max_width) for r, h in zip(reads, flags)]
        ingest.refuse_duplicates(self.database, [p.row["id"] for p in prepared])
        written: list[Path] = []
        room = self._guard.ready()  # False: paused by a full disk that has not got room back yet
        try:
            full = ingest.write_images(self.folder, self._incoming, prepared, written, room=room)
            if full:
                self._guard.disk_full()  # the reserve's room goes to the rows below
            try:
                ingest.insert_rows(self.database, prepared)
            except OperationalError as e:
                if not ingest.database_full(e):
                    raise
                self._guard.disk_full()
                ingest.insert_rows(self.database, prepared)
                full = full or -1  # stored on the reserve's room
        except BaseException as e:
            for p in written:  # the rows did not commit: take their files back
                files.remove_quietly(p)
            if isinstance(e, OperationalError) and ingest.database_full(e):
                self.raise_alarm(f"the disk holding {self.folder} is full even for metadata: "
                                 f"{len(prepared)} read(s) NOT stored")
                raise StoreError(f"the disk holding {self.folder} is full; the read was not stored: free space "
                                 "(the capacity purge deletes images of non-hits)") from e
            raise
        if full and room:  # once when the disk fills, not again for every read while paused
            self.raise_alarm(f"the disk holding {self.folder} is full: {max(full, 0)} image(s) not written; "
                             "their reads were stored without them, images paused until there is room")
            if self.watermarks is not None:
                self.free_space()
        return len(prepared)

    def mark_confirmed(self, ids: Iterable[str], at: datetime | None = None) -> int:
        """Note that the hub confirmed receipt of these reads (the first confirmation counts); return how many."""
        self._check_open()
        return purge.confirm(self.database, list(ids), at or datetime.now(timezone.utc))

    # -- the outbox (outbox.py): what the hub has not acknowledged -------------------------

    def outbox_pending(self, limit: int = 100) -> list[outbox.Entry]:
        """The next records to send to the hub, alerts first."""
        self._check_open()
        return outbox.pending(self.database, limit)

    def outbox_acknowledge(self, entries: Sequence[outbox.Entry], at: datetime | None = None) -> int:
        """The hub acknowledged these: out of the outbox, their records marked confirmed (one transaction)."""
        self._check_open()
        return outbox.acknowledge(self.database, entries, at or datetime.now(timezone.utc))

    def outbox_failed(self, ids: Sequence[str], error: str) -> None:
        """Count a delivery attempt of these records that the hub did not acknowledge."""
        self._check_open()
        outbox.note_failure(self.database, ids, error)

    def outbox_drop(self, ids: Sequence[str]) -> None:
        """Forget entries whose record is gone from the store (nothing left to send)."""
        self._check_open()
        outbox.drop(self.database, ids)

    def outbox_add(self, kind: str, record_id: str, body: dict, at: datetime | None = None) -> int:
        """Queue a record of a kind with no table of its own (alert, access, heartbeat); its seq."""
        self._check_open()
        return outbox.add_record(self.database, kind, record_id, body, at or datetime.now(timezone.utc))

    def outbox_backlog(self) -> outbox.Backlog:
        """How many records wait for the hub, and since when (health page, heartbeat)."""
        self._check_open()
        return outbox.backlog(self.database)

    def purge_record(self, record_id: str) -> PurgeReport | None:
        """One purge run by id, or None."""
        self._check_open()
        if self.database.execute_sql("SELECT 1 FROM purge_records WHERE id = ?", (record_id,)).fetchone() is None:
            return None
        return purge.load(self.database, record_id)

    def reads_after(self, seq: int, limit: int = 100) -> list[StoredRead]:
        """Reads whose seq is above `seq`, in seq order (the pull API's pages)."""
        self._check_open()
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
        q = ReadRow.select().where(ReadRow.seq > seq).order_by(ReadRow.seq).limit(limit)
        return [stored(r) for r in q.bind(self.database)]

    def set_hold(self, read_id: str, hold: bool) -> None:
        """Keep a read past its period (True) or let it go again (False)."""
        self._check_open()
        with self.database.atomic():
            n = ReadRow.update(hold=bool(hold)).where(ReadRow.id == read_id).execute(self.database)
        if n == 0:
            raise StoreError(f"there is no read {read_id} in the store to hold or release")

    def purge(self, now: datetime | None = None, policy: RetentionPolicy | None = None) -> PurgeReport:
        """Delete what the retention policy says is due (purge.py) and record the run."""
        self._check_open()
        return purge.retention(self.database, self.folder, now or datetime.now(timezone.utc),
                               policy or RetentionPolicy())

    def free_space(self, marks: Watermarks | None = None, disk_usage: DiskUsage | None = None,
                   now: datetime | None = None) -> PurgeReport | None:
        """Above the high watermark, destroy images of non-hits until below the low one; raise the alarm.

        None when the disk is below the high watermark. Watermarks and `disk_usage` default to
        those given at open, then to 90 %/85 % of the real file system.
        """
        self._check_open()
        marks = marks or self.watermarks or Watermarks()
        report, use = purge.capacity(self.database, self.folder, now or datetime.now(timezone.utc), marks,
                                     disk_usage or self._disk_usage or disk_usage_of(self.folder))
        if use < marks.low:
            self._guard.restore()
        if report is not None:
            still = "" if use < marks.low else f"; still {use:.0%} used: only metadata and hits' images are left"
            self.raise_alarm(f"the disk holding {self.folder} passed {marks.high:.0%}: images of "
                             f"{len(report.items)} non-hit reads deleted (purge {report.id}){still}")
        return report

    def raise_alarm(self, message: str) -> None:
        """Set the store's alarm and tell whoever listens (on_alarm); the message holds no plate text."""
        self.alarm = message
        log.error("store alarm: %s", message)
        if self._on_alarm is not None:
            try:
                self._on_alarm(message)
            except Exception:
                log.exception("the store alarm handler failed")

    def clear_alarm(self) -> None:
        self.alarm = None

    # -- reads (any thread, any process) -------------------------------------------------

    def latest_reads(self, limit: int = 50) -> list[StoredRead]:
        """The most recent reads by last_seen, newest first (ties broken by id, also time-ordered)."""
        self._check_open()
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
        q = ReadRow.select().order_by(ReadRow.last_seen.desc(), ReadRow.id.desc()).limit(limit)
        return [stored(r) for r in q.bind(self.database)]

    def search(self, *, plate: str | None = None, camera: str | None = None, since: datetime | None = None,
               until: datetime | None = None, limit: int = 100) -> list[StoredRead]:
        """Reads by plate (exact, or `?`/`*` wildcards), camera and time range, newest first (search.py)."""
        self._check_open()
        return search.search(self.database, plate=plate, camera=camera, since=since, until=until, limit=limit)

    def purge_records(self, limit: int = 50) -> list[PurgeReport]:
        """The latest purge runs, newest first."""
        self._check_open()
        return purge.records(self.database, limit)

    def last_purge(self, reason: str = "retention") -> datetime | None:
        """When the last finished purge for `reason` started (seeds PurgeSchedule), or None."""
        self._check_open()
        return purge.last_finished(self.database, reason)

    def get_read(self, read_id: str) -> StoredRead | None:
        """The read with this id, or None."""
        row = self._row(read_id)
        return None if row is None else stored(row)

    def get_reads(self, read_ids: Sequence[str]) -> dict[str, StoredRead]:
        """The reads with these ids that exist, by id: one query per 500 ids (the forwarder's batches)."""
        self._check_open()
        ids, found = list(read_ids), {}
        for i in range(0, len(ids), 500):
            for row in ReadRow.select().where(ReadRow.id.in_(ids[i:i + 500])).bind(self.database):
                found[row.id] = stored(row)
        return found

    def image_path(self, read_id: str, kind: Literal["crop", "frame"]) -> Path | None:
        """Where the read's sealed crop or frame file is (ciphertext: use `image_bytes` to see it); None
        when the store holds no such image."""
        _check_kind(kind)
        row = self._row(read_id)
        if row is None or (row.crop_key if kind == "crop" else row.frame_key) is None:
            return None  # no such read, or that image was not kept or has been destroyed
        return self.folder / (row.crop_file if kind == "crop" else row.frame_file)

    def image_bytes(self, read_id: str, kind: Literal["crop", "frame"]) -> bytes | None:
        """The read's crop or frame as JPEG bytes, decrypted in memory; None when there is no such
        read or its image was destroyed. A file that fails authentication marks that image
        damaged (this read only) and raises ImageDamagedError."""
        _check_kind(kind)
        row = self._row(read_id)
        wrapped = None if row is None else (row.crop_key if kind == "crop" else row.frame_key)
        if wrapped is None:
            return None
        what = f"the {kind} of read {read_id}"
        try:
            blob = (self.folder / (row.crop_file if kind == "crop" else row.frame_file)).read_bytes()
            return crypto.open_sealed(blob, wrapped, self._kek, crypto.image_aad(read_id, kind), what)
        except (ImageDamagedError, FileNotFoundError) as e:
            self._mark_damaged(read_id, kind)
            if isinstance(e, FileNotFoundError):
                raise ImageDamagedError(f"{what} is damaged: its file is missing") from None
            raise

    def _mark_damaged(self, read_id: str, kind: str) -> None:
        log.error("the %s of read %s fails authentication; marked damaged", kind, read_id)
        column = ReadRow.crop_damaged if kind == "crop" else ReadRow.frame_damaged
        try:
            with self.database.atomic():
                ReadRow.update({column: True}).where(ReadRow.id == read_id).execute(self.database)
        except Exception:  # a reader that cannot write (busy, read-only) still reports the damage
            log.exception("could not mark the %s of read %s damaged", kind, read_id)

    def count(self) -> int:
        """How many reads are stored."""
        self._check_open()
        return ReadRow.select().count(self.database)

    # -- connections -------------------------------------------------------------------

    def connect(self) -> None:
        """Open this thread's connection now (queries also open it on demand)."""
        self._check_open()
        self.database.connect(reuse_if_open=True)

    def disconnect(self) -> None:
        """Close this thread's connection, if open; the store stays usable."""
        if not self.database.is_closed():
            self.database.close()

    def close(self) -> None:
        """Close this thread's connection, drop the folder lock, refuse further use of this object."""
        self.disconnect()
        self._closed = True
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.folder} is closed; open it again with Store.open")

    def _row(self, read_id: str) -> ReadRow | None:
        self._check_open()
        return ReadRow.select().where(ReadRow.id == read_id).bind(self.database).first()


def _check_kind(kind: str) -> None:
    if kind not in IMAGE_KINDS:
        raise ValueError(f"image kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
