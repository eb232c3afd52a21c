"""The local store: reads in SQLCipher (WAL), their crop and frame as encrypted files beside it.

Layout of a store folder (the master key lives elsewhere: keys.py)::

    FOLDER/alpr.db                               the encrypted database (reads, users, schema_version)
    FOLDER/images/YYYY-MM-DD/<id>.crop.enc       plate crop, JPEG sealed with AES-256-GCM (crypto.py)
    FOLDER/images/YYYY-MM-DD/<id>.frame.enc      the frame, downscaled, sealed the same way
    FOLDER/images/.incoming/                     temp files (ciphertext only) while writing

Order of `add_read`, so that a power cut never leaves a row pointing at a missing file:
1. encode both JPEGs and seal them in memory (a bad image fails here, nothing written;
   no plaintext pixel ever reaches the disk, not even a temp file);
2. write each ciphertext under a temp name, fsync it, rename it, fsync the folder;
3. only then insert the row (with the wrapped image keys) and commit.
A cut before 3 commits leaves image files with no row and no key: unreadable, harmless
(retention deletes day folders wholesale), never a row without files. An exception in 3
deletes the files.

One writer: every write goes through one thread (the pipeline's writer thread); the web
UI's few writes (users, damaged marks, later access records) are short transactions that
the busy timeout serialises. Readers on any thread or in another process read alongside
(WAL). Each thread gets its own connection (peewee's thread-local state); threads other
than the one that calls `close()` should call `disconnect()` when done (the web UI does
per request). Every open Store holds the folder's shared lock (locking.py).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from peewee import Database

from appliance.errors import StoreError
from appliance.store import admin, cipherdb, crypto, files, jpeg, upgrade
from appliance.store.crypto import ImageDamagedError
from appliance.store.keys import KeyProvider, LocalKeyFile, RotatableKey
from appliance.store.locking import FolderLock
from appliance.store.models import ReadRow
from appliance.store.rows import StoredRead, row_fields, stored
from appliance.store.schema import migrate
from appliance.store.times import to_rfc3339
from appliance.types import Read

log = logging.getLogger(__name__)

DB_NAME = admin.DB_NAME
IMAGE_KINDS = ("crop", "frame")
MAX_LIMIT = 1000


class Store:
    """Reads and their images in one folder; open with `Store.open(folder, keys=...)`."""

    def __init__(self, folder: Path, database: Database, *, kek: bytes, lock: FolderLock | None = None,
                 frame_max_width: int = 1280) -> None:
        self.folder = folder
        self.database = database  # public so the web UI can open/close per-request connections
        self.frame_max_width = frame_max_width
        self._kek = kek  # wraps each image's own key (crypto.py)
        self._lock = lock
        self._images = folder / "images"
        self._incoming = self._images / ".incoming"
        self._closed = False

    @classmethod
    def open(cls, folder: Path, *, keys: KeyProvider | None = None, busy_timeout_s: float = 5.0,
             frame_max_width: int = 1280, check_integrity: bool = True) -> Store:
        """Open (creating if needed) the encrypted store in `folder`, unlocked by `keys`.

        `keys` defaults to the device's key file (keys.default_key_path). A v1 store is
        encrypted on the way (upgrade.py); an interrupted key rotation is finished or undone
        (admin.py); then the key is checked before anything else is written.
        """
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"store folder {folder} is a file: give a folder (it is created if missing)")
        keys = keys if keys is not None else LocalKeyFile()
        _check_key_apart(keys, folder)
        if (folder / admin.WIPED_MARK).exists():
            when = (folder / admin.WIPED_MARK).read_text().strip()
            raise StoreError(f"the store at {folder} was crypto-wiped ({when}); nothing in it can be opened: "
                             "delete the folder to start a new store")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FolderLock(folder)
        try:
            path = folder / DB_NAME
            master = _settle(path, folder, keys, lock, busy_timeout_s)
            db_key = crypto.database_key(master)
            if path.exists() and path.stat().st_size > 0:
                cipherdb.check_key(path, db_key, folder)
            else:  # create it private before SQLite creates it with the umask's mode
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            store = cls(folder, cls._make_database(path, busy_timeout_s, db_key), kek=crypto.wrapping_key(master),
                        lock=lock, frame_max_width=frame_max_width)
        except BaseException:
            lock.release()
            raise
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
        swept = files.sweep_temp_files(self._incoming)
        if swept:
            log.warning("removed %d half-written image files left by a crash in %s", swept, self._incoming)
        migrate(self.database, str(self.folder))

    @staticmethod
    def _make_database(path: Path, busy_timeout_s: float, db_key: str) -> Database:
        """peewee on SQLCipher in WAL mode (cipherdb.make_database); the one place the database is made."""
        return cipherdb.make_database(path, db_key, busy_timeout_s)

    # -- writes (one writer thread) ------------------------------------------------------

    def add_read(self, read: Read) -> None:
        """Write the read's images durably, then its row (the order in the module docstring)."""
        self._check_open()
        row = row_fields(read)
        if ReadRow.select(ReadRow.id).where(ReadRow.id == read.id).exists(self.database):
            raise StoreError(f"read {read.id} is already stored; each read needs a new uuid7 id")
        crop = jpeg.encode(read.crop, "crop", 95)
        frame = jpeg.encode(jpeg.downscale(read.frame, self.frame_max_width, "frame"), "frame", 85)
        crop_blob, crop_key = crypto.seal(crop, self._kek, crypto.image_aad(read.id, "crop"))
        frame_blob, frame_key = crypto.seal(frame, self._kek, crypto.image_aad(read.id, "frame"))
        day = row["first_seen"][:10]
        crop_rel, frame_rel = f"images/{day}/{read.id}.crop.enc", f"images/{day}/{read.id}.frame.enc"
        files.make_dir_durable(self._images / day)
        written: list[Path] = []
        try:
            for rel, data in ((crop_rel, crop_blob), (frame_rel, frame_blob)):
                files.write_atomic(self.folder / rel, data, self._incoming)
                written.append(self.folder / rel)
            with self.database.atomic():
                ReadRow.insert(**row, crop_file=crop_rel, frame_file=frame_rel, crop_key=crop_key,
                               frame_key=frame_key, stored_at=to_rfc3339(datetime.now(timezone.utc))
                               ).execute(self.database)
        except BaseException:
            for p in written:  # the row did not commit: take its files back
                files.remove_quietly(p)
            raise

    # -- reads (any thread, any process) -------------------------------------------------

    def latest_reads(self, limit: int = 50) -> list[StoredRead]:
        """The most recent reads by last_seen, newest first (ties broken by id, also time-ordered)."""
        self._check_open()
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
        q = ReadRow.select().order_by(ReadRow.last_seen.desc(), ReadRow.id.desc()).limit(limit)
        return [stored(r) for r in q.bind(self.database)]

    def get_read(self, read_id: str) -> StoredRead | None:
        """The read with this id, or None."""
        row = self._row(read_id)
        return None if row is None else stored(row)

    def image_path(self, read_id: str, kind: Literal["crop", "frame"]) -> Path | None:
        """Where the read's sealed crop or frame file is (ciphertext: use `image_bytes` to see it)."""
        _check_kind(kind)
        row = self._row(read_id)
        if row is None:
            return None
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


def _settle(path: Path, folder: Path, keys: KeyProvider, lock: FolderLock, timeout_s: float) -> bytes:
    """Take the shared lock, upgrading a v1 store or settling a cut rotation first; return the master key.

    That work needs the folder alone: the lock is dropped and taken exclusive, and a
    process that finds the work already done by another just opens.
    """
    lock.shared(timeout_s, "be opened")

    def work() -> bool:
        return upgrade.pending(path) or admin.rotation_leftovers(path, keys)

    if work():
        lock.unlock()
        lock.exclusive(max(timeout_s, 30.0), "be upgraded or recovered")
        if upgrade.pending(path):
            master = keys.load(create=not upgrade.committed(path))
            upgrade.run(path, folder, master, timeout_s)
        if isinstance(keys, RotatableKey) and admin.rotation_leftovers(path, keys):
            admin.recover_rotation(path, keys)
        lock.shared(timeout_s, "be opened")
    return keys.load(create=not (path.exists() and path.stat().st_size > 0))


def _check_key_apart(keys: KeyProvider, folder: Path) -> None:
    key_path = getattr(keys, "path", None)
    if key_path is not None and Path(key_path).resolve().is_relative_to(folder.resolve()):
        raise StoreError(f"the store key file {key_path} is inside the store folder {folder}: keep the key "
                         "apart from the data it protects (e.g. /var/lib/alpr-keys/store.key)")


def _check_kind(kind: str) -> None:
    if kind not in IMAGE_KINDS:
        raise ValueError(f"image kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
