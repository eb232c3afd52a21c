"""SQLCipher underneath the store: opening with a key, checking the key, integrity, export.

SQLCipher encrypts every page (AES-256-CBC with an HMAC-SHA512 per page); only the first
16 bytes of the file (the salt) are not secret. `check_key` opens a bare connection and
reads one page before anything else is done, so a wrong key fails with a clear message
and writes nothing: no WAL file, no migration, no swept temp files.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from peewee import Database
from playhouse.sqlcipher_ext import SqlCipherDatabase
from sqlcipher3 import dbapi2 as sqlcipher

from appliance.errors import StoreError

SQLITE_HEADER = b"SQLite format 3\x00"


class _StoreDatabase(SqlCipherDatabase):
    """SqlCipherDatabase whose connection pragmas wait out another process's switch to WAL.

    When several processes open a new store file at once (`alpr run` and `alpr serve` at
    boot), the first to switch it to WAL holds a lock the others' switch needs, and SQLite
    answers them "database is locked" at once instead of waiting out busy_timeout (waiting
    could deadlock). WAL is a property of the file, so retrying until the first is done is
    enough. Seen under load in the four-process test, about once in 15 runs.
    """

    def _set_pragmas(self, conn) -> None:
        wait_s = dict(self._pragmas).get("busy_timeout", 5000) / 1000
        deadline = time.monotonic() + wait_s
        for pragma, value in self._pragmas:
            while True:
                try:
                    conn.execute(f"PRAGMA {pragma} = {value}")
                    break
                except sqlcipher.OperationalError as exc:
                    if "locked" not in str(exc) or time.monotonic() >= deadline:
                        raise
                    time.sleep(0.02)


def make_database(path: Path, db_key: str, busy_timeout_s: float) -> Database:
    """peewee on SQLCipher in WAL mode; `db_key` is `crypto.database_key(master)`."""
    db = _StoreDatabase(None)
    db.init(str(path), passphrase=db_key, timeout=busy_timeout_s, pragmas={
        "busy_timeout": int(busy_timeout_s * 1000),
        "journal_mode": "wal",  # readers (the web UI process) never block the writer
        "synchronous": "full",  # a commit we reported survives a power cut; reads are few per second
        "foreign_keys": 1,
        "secure_delete": 1,  # deleted rows (wrapped image keys) are zeroed, not left in free pages
        "temp_store": 2,  # sort and temp tables in memory, never in a temp file (DS-4)
        "cache_size": -16000,  # 16 MB of decrypted pages: the plate index of ~1M reads stays mostly cached
    })
    return db


def connect_raw(path: Path, db_key: str | None) -> sqlcipher.Connection:
    """A bare connection (autocommit) keyed with `db_key`, or a plaintext one when None."""
    conn = sqlcipher.connect(str(path), isolation_level=None)
    if db_key is not None:
        conn.execute(f"PRAGMA key = \"{db_key}\"")
    return conn


def opens_with(path: Path, db_key: str) -> bool:
    """Whether `db_key` decrypts the database at `path` (reads page 1 only; writes nothing)."""
    conn = sqlcipher.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA cipher_log = off")  # a wrong key is an answer here, not three lines of HMAC errors
    try:
        conn.execute(f"PRAGMA key = \"{db_key}\"")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return True
    except sqlcipher.DatabaseError:
        return False
    finally:
        conn.execute("PRAGMA cipher_log = stderr")  # process-wide: back to SQLCipher's default
        conn.close()


def check_key(path: Path, db_key: str, folder: Path) -> None:
    """StoreError naming the folder when the key does not open the database."""
    if not opens_with(path, db_key):
        raise StoreError(f"the store key does not open {folder}: wrong key or not an alpr store")


def is_plaintext(path: Path) -> bool:
    """A plain SQLite file (store v1) rather than an encrypted one."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def integrity_problems(db: Database) -> list[str]:
    """What `PRAGMA cipher_integrity_check` reports (HMAC failures per page); empty when sound."""
    return [str(r[0]) for r in db.execute_sql("PRAGMA cipher_integrity_check").fetchall()]


def export(src: sqlcipher.Connection, dest: Path, dest_key: str) -> None:
    """Copy the whole database behind `src` into a new file `dest` encrypted with `dest_key`."""
    remove_database_files(dest)
    src.execute(f"ATTACH DATABASE ? AS export_target KEY \"{dest_key}\"", (str(dest),))
    try:
        src.execute("SELECT sqlcipher_export('export_target')")
    finally:
        src.execute("DETACH DATABASE export_target")


def checkpoint_and_close(conn: sqlcipher.Connection, path: Path) -> None:
    """Fold the WAL into the main file and close, so the file alone is the whole database."""
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):  # empty now; a stale WAL must never meet a replaced main file
        _unlink(Path(str(path) + suffix))


def remove_database_files(path: Path) -> None:
    """Delete a database and its -wal, -shm and -journal files, if present."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        _unlink(Path(str(path) + suffix))


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass
