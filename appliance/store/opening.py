"""Unlocking a store folder before its database is opened: checks, the folder lock, upgrades, the key.

Split out of store.py; the order is what matters: refuse a key inside the folder or a
wiped store, take the folder lock, upgrade a v1 store or settle a cut key rotation (with
the folder to itself), then check the key on page 1 before anything else is written.
"""

from __future__ import annotations

import os
from pathlib import Path

from appliance.errors import StoreError
from appliance.store import admin, cipherdb, crypto, upgrade
from appliance.store.keys import KeyProvider, RotatableKey
from appliance.store.locking import FolderLock

DB_NAME = admin.DB_NAME


def unlock(folder: Path, keys: KeyProvider, busy_timeout_s: float) -> tuple[Path, FolderLock, bytes]:
    """(database path, the folder's shared lock, the master key) for a store ready to open.

    The caller owns the lock from here (release it if opening fails later).
    """
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"store folder {folder} is a file: give a folder (it is created if missing)")
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
        if path.exists() and path.stat().st_size > 0:
            cipherdb.check_key(path, crypto.database_key(master), folder)
        else:  # create it private before SQLite creates it with the umask's mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except BaseException:
        lock.release()
        raise
    return path, lock, master


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


