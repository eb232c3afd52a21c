"""The store on real SQLCipher files and sealed JPEGs: round trip, order, WAL, crash safety, schema, accounts.

The encryption itself (no plaintext on disk, keys, rotation, wipe, v1 upgrade, damage,
SIGKILL) is tested in test_store_crypto.py.
"""

from __future__ import annotations

import os
import time

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlcipher3 import dbapi2 as sqlcipher

from appliance import users
from appliance.errors import AccountError, ImageError, StoreError
from appliance.ids import uuid7
from appliance.store import LocalKeyFile, Store
from appliance.store.crypto import database_key
from appliance.store.schema import LATEST, MIGRATIONS
from appliance.types import Alternative, Read

T0 = datetime(2026, 11, 30, 4, 21, 7, 183456, tzinfo=timezone.utc)


def pattern(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth BGR image (JPEG keeps it close) that differs per seed."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // w + seed * 40) % 256, (y * 255 // h) % 256, np.full_like(x, seed * 60 % 256)], -1)
    return img.astype(np.uint8)


def make_read(text: str = "7ABC123", at: datetime = T0, seed: int = 1, **kw) -> Read:
    fields = dict(id=uuid7(int(at.timestamp() * 1000)), device_id="dev-1", camera_id="cam0", text=text,
                  confidence=0.93, char_confidences=tuple(0.9 + i / 100 for i in range(len(text))),
                  alternatives=(Alternative(text.replace("B", "8"), 0.04),), first_seen=at - timedelta(seconds=2),
                  last_seen=at, clock_synced=True, box=(100, 200, 120, 40), direction="left", frames_seen=9)
    fields.update(kw)
    if "crop" not in fields:
        fields["crop"] = pattern(64, 192, seed)
    if "frame" not in fields:
        fields["frame"] = pattern(1080, 1920, seed)
    return Read(**fields)


def keys_for(folder: Path) -> LocalKeyFile:
    """Each test store's key file, outside its folder as on the device (never /var/lib/alpr-keys)."""
    return LocalKeyFile(folder.parent / "keys" / f"{folder.name}.key")


def open_store(folder: Path, **kw) -> Store:
    return Store.open(folder, keys=keys_for(folder), **kw)


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


def db_key(folder: Path) -> str:
    return database_key(keys_for(folder).load())


def raw(folder: Path, timeout: float = 0.0) -> sqlcipher.Connection:
    """A plain second connection with the key, as another process (the web UI, a backup tool) would open."""
    conn = sqlcipher.connect(str(folder / "alpr.db"), timeout=timeout, isolation_level=None)
    conn.execute(f'PRAGMA key = "{db_key(folder)}"')
    return conn


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in (folder / "images").rglob("*") if p.is_file() and p.name != ".reserve")  # not the ballast


def decoded(store: Store, read_id: str, kind: str) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(store.image_bytes(read_id, kind), np.uint8), cv2.IMREAD_COLOR)


def test_round_trip_keeps_every_field_and_both_images(store: Store) -> None:
    read = make_read()
    store.add_read(read)
    got = store.get_read(read.id)
    assert got is not None
    for name in ("id", "device_id", "camera_id", "text", "confidence", "char_confidences", "alternatives",
                 "clock_synced", "box", "direction", "frames_seen"):
        assert getattr(got, name) == getattr(read, name), name
    # times keep milliseconds (the microseconds below them are dropped on purpose)
    assert got.last_seen == T0.replace(microsecond=183000)
    assert got.first_seen == (T0 - timedelta(seconds=2)).replace(microsecond=183000)
    crop = decoded(store, read.id, "crop")
    assert crop.shape == read.crop.shape
    assert np.abs(crop.astype(int) - read.crop).mean() < 3
    frame = decoded(store, read.id, "frame")
    assert frame.shape == (720, 1280, 3)  # downscaled to the store's frame width
    expected = cv2.resize(read.frame, (1280, 720), interpolation=cv2.INTER_AREA)
    assert np.abs(frame.astype(int) - expected).mean() < 3
    assert store.count() == 1
    assert store.get_read(uuid7()) is None
    assert store.image_path(uuid7(), "crop") is None and store.image_bytes(uuid7(), "crop") is None


def test_times_are_stored_as_rfc3339_utc_with_milliseconds(store: Store) -> None:
    pacific = timezone(timedelta(hours=-8))
    read = make_read(at=T0.astimezone(pacific))
    store.add_read(read)
    first, last = raw(store.folder).execute("SELECT first_seen, last_seen FROM reads").fetchone()
    assert last == "2026-11-30T04:21:07.183Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first)
    assert store.get_read(read.id).as_json()["last_seen"] == "2026-11-30T04:21:07.183Z"


def test_latest_reads_are_newest_first_and_limited(store: Store) -> None:
    texts = ["AAA111", "BBB222", "CCC333", "DDD444"]
    order = [2, 0, 3, 1]  # stored out of time order: the store sorts by time, not arrival
    for i in order:
        store.add_read(make_read(texts[i], at=T0 + timedelta(seconds=10 * i), seed=i))
    assert [r.text for r in store.latest_reads(10)] == ["DDD444", "CCC333", "BBB222", "AAA111"]
    assert [r.text for r in store.latest_reads(2)] == ["DDD444", "CCC333"]
    with pytest.raises(ValueError, match="limit must be an integer from 1 to 1000; got 0"):
        store.latest_reads(0)


def test_wal_mode_and_busy_timeout_are_on(store: Store) -> None:
    assert raw(store.folder).execute("PRAGMA journal_mode").fetchone() == ("wal",)  # kept in the file
    assert store.database.execute_sql("PRAGMA busy_timeout").fetchone() == (5000,)


def test_a_reader_in_a_transaction_does_not_block_the_writer(tmp_path: Path) -> None:
    # Only WAL allows this: in rollback-journal mode the commit below would fail with
    # "database is locked" while the reader holds its snapshot.
    store = open_store(tmp_path / "store", busy_timeout_s=0.2)
    store.add_read(make_read("AAA111"))
    reader = raw(store.folder)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM reads").fetchone() == (1,)
    store.add_read(make_read("BBB222", at=T0 + timedelta(seconds=1)))  # commits despite the open reader
    assert reader.execute("SELECT count(*) FROM reads").fetchone() == (1,)  # its snapshot is stable
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM reads").fetchone() == (2,)
    store.close()


def test_another_process_reads_while_a_write_is_in_progress(store: Store) -> None:
    store.add_read(make_read("AAA111"))
    script = ("import sys; from sqlcipher3 import dbapi2 as s; c = s.connect(sys.argv[1], timeout=0); "
              "c.execute('PRAGMA key = \"' + sys.argv[2] + '\"'); "
              "print(c.execute('SELECT group_concat(text) FROM reads').fetchone()[0])")
    with store.database.atomic():  # the writer holds an open write transaction
        store.add_read(make_read("BBB222", at=T0 + timedelta(seconds=1)))
        seen = subprocess.run([sys.executable, "-c", script, str(store.folder / "alpr.db"), db_key(store.folder)],
                              capture_output=True, text=True, timeout=60)
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.strip() == "AAA111"  # committed data only, and no "database is locked"
    assert store.count() == 2


def test_images_are_on_disk_before_the_row_is_inserted(store: Store) -> None:
    # The row's own trigger checks its files exist at the moment of the INSERT.
    conn = store.database.connection()
    conn.create_function("on_disk", 1, lambda rel: int((store.folder / rel).is_file()))
    store.database.execute_sql(
        "CREATE TRIGGER files_first BEFORE INSERT ON reads WHEN NOT on_disk(NEW.crop_file) "
        "OR NOT on_disk(NEW.frame_file) BEGIN SELECT RAISE(ABORT, 'row before its images'); END")
    store.add_read(make_read())
    assert store.count() == 1


def test_a_failure_between_image_write_and_commit_leaves_no_row_and_no_files(store: Store) -> None:
    raw(store.folder).execute("CREATE TRIGGER crash BEFORE INSERT ON reads "
                              "BEGIN SELECT RAISE(ABORT, 'simulated crash before commit'); END")
    read = make_read()
    with pytest.raises(Exception, match="simulated crash before commit"):
        store.add_read(read)
    assert store.count() == 0
    assert store.get_read(read.id) is None
    assert image_files(store.folder) == []
    assert list((store.folder / "images" / ".incoming").iterdir()) == []


def test_half_written_files_left_by_a_crash_are_swept_at_open(tmp_path: Path) -> None:
    open_store(tmp_path / "store").close()
    leftover = tmp_path / "store" / "images" / ".incoming" / "x.crop.enc.part"
    leftover.write_bytes(b"half a sealed image")
    open_store(tmp_path / "store").close()
    assert leftover.exists()  # fresh: perhaps another process is writing it right now
    old = time.time() - 600
    os.utime(leftover, (old, old))
    open_store(tmp_path / "store").close()
    assert not leftover.exists()


def test_schema_version_is_recorded_once(tmp_path: Path) -> None:
    open_store(tmp_path / "store").close()
    open_store(tmp_path / "store").close()
    rows = raw(tmp_path / "store").execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(v,) for v in range(1, LATEST + 1)] and set(MIGRATIONS) == set(range(1, LATEST + 1))


def test_the_models_match_the_frozen_schema(store: Store) -> None:
    from appliance.store.models import MODELS
    for model in MODELS:
        table = model._meta.table_name
        columns = [c.name for c in store.database.get_columns(table)]
        assert columns == [f.column_name for f in model._meta.sorted_fields], table


def test_a_store_a_newer_release_changed_incompatibly_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path / "store").close()
    raw(tmp_path / "store").execute("INSERT INTO schema_version VALUES (98, '2030-01-01T00:00:00.000Z', 0)")
    raw(tmp_path / "store").execute("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00.000Z', 1)")
    with pytest.raises(StoreError, match="schema version 99, newer than this software knows .*version 99 changed"):
        open_store(tmp_path / "store")


def test_a_rolled_back_release_keeps_using_a_store_a_newer_release_extended(tmp_path: Path) -> None:
    """Issue #12: a rollback keeps the data: additive migrations of a newer release leave the
    store usable by this one (new tables and defaulted columns are ignored)."""
    read = make_read()
    with open_store(tmp_path / "store") as s:
        s.add_read(read)
    conn = raw(tmp_path / "store")
    conn.execute("CREATE TABLE from_the_future (x INTEGER)")
    conn.execute("ALTER TABLE reads ADD COLUMN future_note TEXT NOT NULL DEFAULT ''")
    conn.execute("INSERT INTO schema_version VALUES (99, '2030-01-01T00:00:00.000Z', 0)")
    with open_store(tmp_path / "store") as s:
        assert s.get_read(read.id).text == "7ABC123"
        s.add_read(make_read())
        assert s.count() == 2


def test_reopening_an_existing_store_keeps_reads_and_images(tmp_path: Path) -> None:
    read = make_read()
    with open_store(tmp_path / "store") as s:
        s.add_read(read)
    with open_store(tmp_path / "store") as s:
        assert s.count() == 1
        assert s.get_read(read.id).text == "7ABC123"
        assert s.image_path(read.id, "frame").is_file() and decoded(s, read.id, "frame").shape == (720, 1280, 3)
        s.add_read(make_read("XYZ789", at=T0 + timedelta(seconds=5)))
        assert [r.text for r in s.latest_reads(5)] == ["XYZ789", "7ABC123"]


def test_two_stores_in_one_process_stay_apart(tmp_path: Path) -> None:
    with open_store(tmp_path / "a") as a, open_store(tmp_path / "b") as b:
        a.add_read(make_read("AAA111"))
        assert (a.count(), b.count()) == (1, 0)


def test_a_closed_store_says_so(tmp_path: Path) -> None:
    s = open_store(tmp_path / "store")
    s.close()
    with pytest.raises(StoreError, match="is closed; open it again"):
        s.count()


def test_a_duplicate_id_is_refused_and_the_first_images_survive(store: Store) -> None:
    read = make_read()
    store.add_read(read)
    with pytest.raises(StoreError, match="already stored"):
        store.add_read(make_read("OTHER1", id=read.id, seed=3))
    assert decoded(store, read.id, "crop").shape == read.crop.shape and store.get_read(read.id).text == "7ABC123"


@pytest.mark.parametrize("change, error, words", [
    ({"last_seen": datetime(2026, 1, 1)}, ValueError, "timezone-aware"),
    ({"direction": "north"}, ValueError, "direction must be one of up, down"),
    ({"crop": np.zeros((0, 10, 3), np.uint8)}, ImageError, "read.crop must be a non-empty"),
    ({"frame": np.zeros((10, 10, 3), np.float32)}, ImageError, "read.frame must be"),
])
def test_bad_reads_are_refused_before_anything_is_written(store: Store, change, error, words) -> None:
    with pytest.raises(error, match=words):
        store.add_read(make_read(**change))
    assert store.count() == 0 and image_files(store.folder) == []


def test_bad_image_kind_names_the_allowed_ones(store: Store) -> None:
    with pytest.raises(ValueError, match="image kind must be one of crop, frame; got 'thumb'"):
        store.image_path(uuid7(), "thumb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image kind must be one of crop, frame; got 'thumb'"):
        store.image_bytes(uuid7(), "thumb")  # type: ignore[arg-type]


# -- accounts live in the same database --------------------------------------------------

PASSWORD = "correct horse battery staple"


def test_a_new_store_has_no_accounts(store: Store) -> None:
    assert raw(store.folder).execute("SELECT count(*) FROM users").fetchone() == (0,)
    assert users.verify(store, "admin", "admin", hasher=users.cheap_hasher()) is None


def test_create_and_verify_a_user(store: Store) -> None:
    ph = users.cheap_hasher()
    u = users.create_user(store, "Alice", PASSWORD, hasher=ph)
    assert (u.username, u.role) == ("alice", "administrator")
    (h,) = raw(store.folder).execute("SELECT password_hash FROM users").fetchone()
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert users.verify(store, "ALICE", PASSWORD, hasher=ph) == u
    assert users.verify(store, "alice", PASSWORD + "x", hasher=ph) is None
    assert users.verify(store, "bob", PASSWORD, hasher=ph) is None


def test_an_old_hash_is_upgraded_at_sign_in(store: Store) -> None:
    users.create_user(store, "alice", PASSWORD, hasher=users.cheap_hasher())
    stronger = users.PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    assert users.verify(store, "alice", PASSWORD, hasher=stronger) is not None
    (h,) = raw(store.folder).execute("SELECT password_hash FROM users").fetchone()
    assert "m=16,t=2" in h


@pytest.mark.parametrize("name, password, role, words", [
    ("alice", "short", "administrator", "password must be 15 to 1024 characters; got 5"),
    ("a", PASSWORD, "administrator", "username must be 2-64 characters"),
    ("alice smith", PASSWORD, "administrator", "username must be"),
    ("alice", PASSWORD, "root", "role must be one of administrator, supervisor"),
])
def test_bad_accounts_are_refused_with_the_rule(store: Store, name, password, role, words) -> None:
    with pytest.raises(AccountError, match=words):
        users.create_user(store, name, password, role, hasher=users.cheap_hasher())


def test_a_taken_username_is_refused_whatever_its_case(store: Store) -> None:
    users.create_user(store, "alice", PASSWORD, hasher=users.cheap_hasher())
    with pytest.raises(AccountError, match="username 'alice' is taken"):
        users.create_user(store, "ALICE", PASSWORD, "operator", hasher=users.cheap_hasher())


def test_two_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    """`alpr run` and `alpr serve` (or a test) may open a fresh store together: each migration is
    applied under the write lock after a second look at the version, so neither sees
    'table already exists'."""
    import subprocess
    import sys
    code = ("import sys; from appliance.store import Store; "
            "s = Store.open(sys.argv[1]); print(s.count()); s.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "store")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err for _, err in outs]
    with Store.open(tmp_path / "store") as s:  # the default key, as the subprocesses used
        rows = s.database.execute_sql("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert rows == [(v,) for v in range(1, LATEST + 1)]
