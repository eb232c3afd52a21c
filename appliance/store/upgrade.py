"""Turning a store v1 (plaintext SQLite, plaintext JPEG files) into the encrypted store.

Runs inside `Store.open` under the folder's exclusive lock. Every step can be cut by a
power loss and redone; the files present say where it stopped::

    alpr.db plaintext                  -> checkpoint it, rename it to alpr.db.v1
    alpr.db.v1, no alpr.db             -> (re)build alpr.db.encrypting from it: sqlcipher_export,
                                          schema v2, every image sealed to a new .enc file;
                                          then rename alpr.db.encrypting -> alpr.db  (commit point)
    alpr.db.v1 and alpr.db (encrypted) -> overwrite and delete the plaintext JPEGs it names,
                                          then the plaintext database itself

Before the commit point the plaintext store is whole and a retry starts over; after it the
encrypted store is whole and only plaintext remnants are left to destroy. Overwriting
before unlinking removes the easy copy; on flash, blocks may survive wear levelling, which
is why a new device starts encrypted and never has a v1 store.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from appliance.store import cipherdb, crypto, files
from appliance.store.schema import migrate

log = logging.getLogger(__name__)

V1_SUFFIX = ".v1"
SIDE_SUFFIX = ".encrypting"
BATCH = 200


def pending(db_path: Path) -> bool:
    """Whether the store at `db_path` is v1 or part-way through becoming encrypted."""
    return cipherdb.is_plaintext(db_path) or _v1(db_path).exists()


def committed(db_path: Path) -> bool:
    """Whether an encrypted database already exists (only plaintext cleanup may be left)."""
    return db_path.exists() and not cipherdb.is_plaintext(db_path)


def run(db_path: Path, folder: Path, master: bytes, busy_timeout_s: float) -> None:
    """Bring a v1 store (at any step above) to encrypted, then destroy its plaintext."""
    v1, side = _v1(db_path), Path(str(db_path) + SIDE_SUFFIX)
    if cipherdb.is_plaintext(db_path):
        cipherdb.checkpoint_and_close(cipherdb.connect_raw(db_path, None), db_path)
        os.replace(db_path, v1)
        files.fsync_dir(folder)
        log.warning("store %s is v1 (plaintext): encrypting it", folder)
    if not db_path.exists():
        n = _build(v1, side, folder, master, busy_timeout_s)
        cipherdb.fsync_file(side)
        os.replace(side, db_path)  # the commit point
        files.fsync_dir(folder)
        log.warning("store %s encrypted: %d reads and their images", folder, n)
    _destroy_plaintext(v1, folder)


def _v1(db_path: Path) -> Path:
    return Path(str(db_path) + V1_SUFFIX)


def _build(v1: Path, side: Path, folder: Path, master: bytes, busy_timeout_s: float) -> int:
    """Write the encrypted copy of `v1` to `side`, sealing every image; return the read count."""
    plain = cipherdb.connect_raw(v1, None)
    try:
        cipherdb.export(plain, side, crypto.database_key(master))
    finally:
        plain.close()
    db = cipherdb.make_database(side, crypto.database_key(master), busy_timeout_s)
    try:
        db.execute_sql("PRAGMA journal_mode = delete")  # a side file: no WAL to carry across the rename
        migrate(db, str(folder))
        kek = crypto.wrapping_key(master)
        rows = db.execute_sql("SELECT id, crop_file, frame_file FROM reads WHERE crop_key IS NULL "
                              "AND frame_key IS NULL ORDER BY id").fetchall()
        for start in range(0, len(rows), BATCH):
            with db.atomic():
                for read_id, crop_file, frame_file in rows[start:start + BATCH]:
                    _seal_row(db, folder, kek, read_id, {"crop": crop_file, "frame": frame_file})
        return len(rows)
    finally:
        db.close()


def _seal_row(db, folder: Path, kek: bytes, read_id: str, old: dict[str, str]) -> None:
    """Encrypt one read's two JPEGs into .enc files and store their wrapped keys."""
    values: list = []
    for kind, rel in old.items():
        new_rel = str(Path(rel).with_name(f"{read_id}.{kind}.enc").as_posix())
        try:
            plain = (folder / rel).read_bytes()
        except OSError:  # a v1 image lost before the upgrade: the read stays, its image is marked
            log.error("read %s: its %s file %s is missing; marked damaged", read_id, kind, rel)
            values += [rel, None, 1]
            continue
        blob, wrapped = crypto.seal(plain, kek, crypto.image_aad(read_id, kind))
        files.make_dir_durable((folder / new_rel).parent)
        files.write_atomic(folder / new_rel, blob, folder / "images" / ".incoming")
        values += [new_rel, wrapped, 0]
    db.execute_sql("UPDATE reads SET crop_file = ?, crop_key = ?, crop_damaged = ?, frame_file = ?, "
                   "frame_key = ?, frame_damaged = ? WHERE id = ?", (*values, read_id))


def _destroy_plaintext(v1: Path, folder: Path) -> None:
    """Overwrite and delete every plaintext JPEG the v1 database names, then the database."""
    if not v1.exists():
        return
    names: list[str] = []
    if cipherdb.is_plaintext(v1):  # else a cut came while overwriting it: its JPEGs were done before
        plain = cipherdb.connect_raw(v1, None)
        try:
            names = [n for row in plain.execute("SELECT crop_file, frame_file FROM reads") for n in row]
        finally:
            plain.close()
    for rel in names:
        _overwrite_and_unlink(folder / rel)
    for suffix in ("-wal", "-shm", "-journal", ""):
        _overwrite_and_unlink(Path(str(v1) + suffix))
    files.fsync_dir(folder)


def _overwrite_and_unlink(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        os.write(fd, bytes(size))
        os.fsync(fd)
    finally:
        os.close(fd)
    path.unlink()
