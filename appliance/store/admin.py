"""Key rotation and crypto-wipe of a store (`alpr store rotate-key`, `alpr store wipe`).

Both need the store closed everywhere (the folder's exclusive lock): stop the service first.

Rotation, and why it survives a power cut at any point:
1. the new master key is written beside the old one (`KEY.new`, fsynced);
2. the database is copied with `sqlcipher_export` into `alpr.db.rekey` under the new
   database key, and every image key in the copy is re-wrapped under the new wrapping
   key, in one transaction (image files are untouched: only their keys' wrapping changes);
3. `alpr.db.rekey` replaces `alpr.db` by rename: the commit point;
4. `KEY.new` replaces `KEY` by rename, and the old key is overwritten and deleted.
A cut before 3 leaves the old database and old key whole: the next open deletes the copy
and the staged key. A cut between 3 and 4 leaves a database that only `KEY.new` opens:
the next open sees that and finishes step 4. No state needs a key that is gone.

`PRAGMA rekey` re-keys in place but in its own transaction, so it cannot commit together
with the re-wrapped image keys; the export costs one database's size of free disk for a
moment and gives a single commit point instead.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from appliance.errors import StoreError
from appliance.store import cipherdb, crypto, files, upgrade
from appliance.store.keys import KEY_BYTES, KeyProvider, RotatableKey, shred
from appliance.store.locking import FolderLock
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

DB_NAME = "alpr.db"
REKEY_SUFFIX = ".rekey"
WIPED_MARK = "WIPED"
HEADER_BYTES = 65536  # covers page 1 (salt and header) for every SQLite page size


@dataclass(frozen=True)
class RotationReport:
    reads: int
    image_keys: int


@dataclass(frozen=True)
class WipeReport:
    destroyed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "PATH: why" for what could not be destroyed


def rotate_key(folder: Path, keys: KeyProvider, *, new_key: bytes | None = None) -> RotationReport:
    """Re-encrypt the database and re-wrap every image key under a new master key, without loss."""
    folder, rot = Path(folder), _rotatable(keys, "rotate")
    db_path = folder / DB_NAME
    if not db_path.is_file() or upgrade.pending(db_path):
        raise StoreError(f"{folder} holds no encrypted store: open it once (alpr run) before rotating its key")
    with FolderLock(folder) as lock:
        lock.exclusive(0, "rotate its key")
        recover_rotation(db_path, rot)
        old = rot.load()
        cipherdb.check_key(db_path, crypto.database_key(old), folder)
        new = secrets.token_bytes(KEY_BYTES) if new_key is None else new_key
        if new == old:
            raise StoreError("the new store key equals the current one; rotation needs a different key")
        rot.stage(new)
        side = Path(str(db_path) + REKEY_SUFFIX)
        try:
            reads, n_keys = _copy_rekeyed(db_path, side, old, new, folder)
        except BaseException:
            cipherdb.remove_database_files(side)
            rot.discard_staged()
            raise
        os.replace(side, db_path)  # commit point: the database is now under the new key
        files.fsync_dir(folder)
        rot.commit_staged()
    log.warning("store %s: master key rotated (%d reads, %d image keys re-wrapped)", folder, reads, n_keys)
    return RotationReport(reads, n_keys)


def _copy_rekeyed(db_path: Path, side: Path, old: bytes, new: bytes, folder: Path) -> tuple[int, int]:
    src = cipherdb.connect_raw(db_path, crypto.database_key(old))
    try:
        cipherdb.export(src, side, crypto.database_key(new))
        (reads,) = src.execute("SELECT count(*) FROM reads").fetchone()
    finally:
        cipherdb.checkpoint_and_close(src, db_path)
    old_kek, new_kek = crypto.wrapping_key(old), crypto.wrapping_key(new)
    dst = cipherdb.connect_raw(side, crypto.database_key(new))
    try:
        dst.execute("PRAGMA secure_delete = 1")
        dst.execute("BEGIN IMMEDIATE")
        n = 0
        rows = dst.execute("SELECT id, crop_key, frame_key FROM reads").fetchall()
        for read_id, crop_key, frame_key in rows:
            wrapped = [None if k is None else crypto.rewrap(k, old_kek, new_kek, f"read {read_id}'s {kind}")
                       for k, kind in ((crop_key, "crop"), (frame_key, "frame"))]
            n += sum(w is not None for w in wrapped)
            dst.execute("UPDATE reads SET crop_key = ?, frame_key = ? WHERE id = ?", (*wrapped, read_id))
        dst.execute("COMMIT")
        (copied,) = dst.execute("SELECT count(*) FROM reads").fetchone()
        problems = [r[0] for r in dst.execute("PRAGMA cipher_integrity_check").fetchall()]
    finally:
        dst.close()
    if copied != reads or problems:
        raise StoreError(f"the re-keyed copy of {folder} is not whole ({copied} of {reads} reads; "
                         f"{problems[:3]}); nothing was changed")
    cipherdb.fsync_file(side)
    return reads, n


def rotation_leftovers(db_path: Path, keys: KeyProvider) -> bool:
    """Whether an interrupted rotation left files for `recover_rotation` to settle."""
    if Path(str(db_path) + REKEY_SUFFIX).exists():
        return True
    if not isinstance(keys, RotatableKey):
        return False
    return keys.staged_path.exists() or keys.old_path.exists()


def recover_rotation(db_path: Path, keys: RotatableKey) -> None:
    """Finish a rotation that committed, or discard one that did not (the module docstring).

    Touches nothing unless one of the two keys opens the database: with a wrong key
    file the caller's key check then fails cleanly.
    """
    if not db_path.exists():
        return
    staged = keys.staged()
    if staged is not None and cipherdb.opens_with(db_path, crypto.database_key(staged)):
        log.warning("finishing an interrupted key rotation of %s", db_path.parent)
        keys.commit_staged()
    elif not (keys.path.exists() and cipherdb.opens_with(db_path, crypto.database_key(keys.load()))):
        return
    keys.discard_staged()
    shred(keys.old_path)
    cipherdb.remove_database_files(Path(str(db_path) + REKEY_SUFFIX))


def wipe(folder: Path, keys: KeyProvider, *, confirm: bool = False) -> WipeReport:
    """Crypto-wipe a decommissioned device: destroy the key and the database's key material.

    Order: the master key first (from then on nothing opens), then page 1 of every
    database file (SQLCipher's salt, from which it derives the page HMAC key: SQLCipher
    refuses the file even with a recovered copy of the key), then the files themselves. A `WIPED` mark makes a later `Store.open` say what happened
    instead of starting an empty store on top.
    """
    if confirm is not True:
        raise StoreError(f"wiping {folder} destroys every read and image for good; confirm it "
                         "(alpr store wipe --yes-destroy-all-data)")
    folder, rot = Path(folder), _rotatable(keys, "wipe")
    if not folder.is_dir():
        raise StoreError(f"store folder {folder} does not exist; nothing to wipe")
    destroyed: list[str] = []
    failed: list[str] = []
    with FolderLock(folder) as lock:
        lock.exclusive(0, "be wiped")
        try:
            destroyed += [str(p) for p in rot.destroy()]
        except OSError as e:  # e.g. a read-only systemd credential: the database's salt still goes below
            failed.append(f"{rot.path}: {e.strerror}")
        for name in (DB_NAME, DB_NAME + REKEY_SUFFIX, DB_NAME + upgrade.SIDE_SUFFIX, DB_NAME + upgrade.V1_SUFFIX):
            for suffix in ("", "-wal", "-shm", "-journal"):
                p = folder / (name + suffix)
                if p.exists():
                    _overwrite_head(p)
                    p.unlink()
                    destroyed.append(str(p))
        files.fsync_dir(folder)
        mark = folder / WIPED_MARK
        mark.write_text(f"crypto-wiped at {to_rfc3339(datetime.now(timezone.utc))}\n")
        files.fsync_dir(folder)
        if (folder / "images").is_dir():  # ciphertext whose keys are gone; deleting it only frees space
            shutil.rmtree(folder / "images")
            destroyed.append(str(folder / "images"))
    log.warning("store %s crypto-wiped: %s", folder, ", ".join(destroyed))
    if failed:
        log.error("store %s: could not destroy %s", folder, "; ".join(failed))
    return WipeReport(destroyed, failed)


def _overwrite_head(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        n = min(os.fstat(fd).st_size, HEADER_BYTES)
        os.write(fd, secrets.token_bytes(n))
        os.fsync(fd)
    finally:
        os.close(fd)


def _rotatable(keys: KeyProvider, what: str) -> RotatableKey:
    if not isinstance(keys, RotatableKey):
        raise StoreError(f"cannot {what} with {keys.describe()}: only a key file can be rotated or destroyed here")
    return keys
