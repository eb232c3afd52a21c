"""The encrypted store on real files (POLICY DS-2..DS-5): nothing readable on disk, keys, rotation,
crypto-wipe, the v1 upgrade, damaged images, and SIGKILL of a writing process."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance import training, users
from appliance.errors import StoreError
from appliance.store import HubBoundKey, ImageDamagedError, LocalKeyFile, Store, cipherdb, crypto
from appliance.store.admin import rotate_key, wipe
from appliance.store.keys import default_hub_key_path, default_key_path
from appliance.store.schema import LATEST, MIGRATIONS
from appliance.store.times import to_rfc3339
from test_store import PASSWORD, T0, keys_for, make_read, open_store, pattern, raw

REPO = Path(__file__).resolve().parents[1]
PLATES = ["7ABC123", "8XYZ987", "5KLM456"]
SIGNATURES = {b"SQLite format 3": "SQLite", b"JFIF": "JPEG", b"\x89PNG": "PNG"}


def small_read(text: str, i: int):
    return make_read(text, at=T0 + timedelta(seconds=30 * i), seed=i, frame=pattern(120, 160, i))


def filled(folder: Path, plates=PLATES) -> list[str]:
    """A closed store with one read per plate and one account; returns the read ids."""
    with open_store(folder) as s:
        reads = [small_read(p, i) for i, p in enumerate(plates)]
        for r in reads:
            s.add_read(r)
        users.create_user(s, "alice", PASSWORD, hasher=users.cheap_hasher())
    return [r.id for r in reads]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leaks(folder: Path) -> list[str]:
    """Every plate text or file signature found anywhere in any file of the folder."""
    found = []
    for name, data in snapshot(folder).items():
        for plate in PLATES:
            if plate.encode() in data or plate.encode("utf-16-le") in data:
                found.append(f"{plate} in {name}")
        found += [f"{kind} signature in {name}" for sig, kind in SIGNATURES.items() if sig in data]
        if data[:3] == b"\xff\xd8\xff":
            found.append(f"JPEG start in {name}")
    return found


# -- DS-2: a disk image shows no plate text and no image -------------------------------

def test_database_and_image_files_hold_no_plate_text_and_no_signatures(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with open_store(folder) as s:
        reads = [small_read(p, i) for i, p in enumerate(PLATES)]
        for r in reads:
            s.add_read(r)
        assert s.image_bytes(reads[0].id, "crop")[:3] == b"\xff\xd8\xff"  # the check below can fail
        assert b"JFIF" in s.image_bytes(reads[0].id, "frame")
        assert (folder / "alpr.db-wal").stat().st_size > 0  # also while the WAL holds fresh pages
        assert leaks(folder) == []
        assert len(list((folder / "images").rglob("*.enc"))) == 2 * len(PLATES)
    assert leaks(folder) == []
    assert [r.text for r in open_store(folder).latest_reads(10)] == PLATES[::-1]


def test_the_store_runs_with_secure_delete_and_memory_temp_files(tmp_path: Path) -> None:
    with open_store(tmp_path / "store") as s:
        assert s.database.execute_sql("PRAGMA secure_delete").fetchone() == (1,)
        assert s.database.execute_sql("PRAGMA temp_store").fetchone() == (2,)  # DS-4: no temp files on disk


# -- keys (DS-3) ----------------------------------------------------------------------

def test_the_key_is_made_once_with_mode_0600_outside_the_folder_and_never_overwritten(tmp_path: Path) -> None:
    keys = keys_for(tmp_path / "store")
    filled(tmp_path / "store", PLATES[:1])
    key = keys.path.read_bytes()
    assert len(key) == 32 and keys.path.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "store").joinpath(keys.path.name).exists()
    assert open_store(tmp_path / "store").count() == 1
    assert keys.path.read_bytes() == key


def test_a_wrong_key_fails_cleanly_and_changes_no_byte(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    filled(folder)
    before = snapshot(folder)
    other = LocalKeyFile(tmp_path / "other.key")
    other.load(create=True)
    with pytest.raises(StoreError, match=f"the store key does not open {folder}: wrong key or not an alpr store"):
        Store.open(folder, keys=other)
    assert snapshot(folder) == before
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "alpr.db").write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="wrong key or not an alpr store"):
        Store.open(tmp_path / "junk", keys=other)


def test_a_missing_key_for_an_existing_store_is_an_error_and_no_new_key_is_made(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    filled(folder)
    before = snapshot(folder)
    lost = LocalKeyFile(tmp_path / "elsewhere" / "store.key")
    with pytest.raises(StoreError, match=r"store key file .*store.key is missing and the store already holds"):
        Store.open(folder, keys=lost)
    assert not lost.path.exists() and snapshot(folder) == before


@pytest.mark.parametrize("problem, words", [
    ("mode", "has mode 0644: others must not read it; run chmod 600"),
    ("length", "holds 16 bytes; a store key is exactly 32 raw bytes"),
    ("inside", "is inside the store folder"),
])
def test_a_bad_key_file_is_refused_with_what_to_do(tmp_path: Path, problem: str, words: str) -> None:
    path = tmp_path / "store" / "k" if problem == "inside" else tmp_path / "k"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(os.urandom(16 if problem == "length" else 32))
    path.chmod(0o644 if problem == "mode" else 0o600)
    with pytest.raises(StoreError, match=words):
        Store.open(tmp_path / "store", keys=LocalKeyFile(path))


def test_key_providers_by_default_and_the_hub_bound_place(tmp_path: Path) -> None:
    assert default_key_path({}) == Path("/var/lib/alpr-keys/store.key")
    assert default_key_path({"CREDENTIALS_DIRECTORY": "/run/credentials/alpr.service"}) == \
        Path("/run/credentials/alpr.service/store-key")
    assert default_hub_key_path({}) == Path("/var/lib/alpr-keys/store.key.hub")  # tests/test_hub_bound_key.py
    with pytest.raises(StoreError, match="only a key file can be rotated"):
        rotate_key(tmp_path / "store", HubBoundKey(tmp_path / "keys" / "store.key.hub", lambda: bytes(32)))


# -- rotation -------------------------------------------------------------------------

def test_rotate_key_round_trip_keeps_every_read_image_and_account(tmp_path: Path) -> None:
    folder, keys = tmp_path / "store", keys_for(tmp_path / "store")
    ids = filled(folder)
    with open_store(folder) as s:
        images = {(i, k): s.image_bytes(i, k) for i in ids for k in ("crop", "frame")}
        with pytest.raises(StoreError, match="in use by another process, so it cannot rotate its key"):
            rotate_key(folder, keys)
    old = keys.path.read_bytes()
    report = rotate_key(folder, keys)
    assert (report.reads, report.image_keys) == (3, 6)
    assert keys.path.read_bytes() != old and sorted(p.name for p in keys.path.parent.iterdir()) == ["store.key"]
    assert not cipherdb.opens_with(folder / "alpr.db", crypto.database_key(old))
    with open_store(folder) as s:
        assert {(i, k): s.image_bytes(i, k) for i in ids for k in ("crop", "frame")} == images
        assert users.verify(s, "alice", PASSWORD, hasher=users.cheap_hasher()) is not None
        s.add_read(small_read("9NEW999", 5))
        assert s.count() == 4
    assert leaks(folder) == []


class CutBeforeKeySwap(LocalKeyFile):
    """A key file whose swap is 'cut by a power loss' right after the database committed."""

    def commit_staged(self) -> None:
        raise KeyboardInterrupt("power cut")


def test_a_rotation_cut_after_the_database_commit_is_finished_at_the_next_open(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    ids = filled(folder)
    keys = keys_for(folder)
    with pytest.raises(KeyboardInterrupt):
        rotate_key(folder, CutBeforeKeySwap(keys.path))
    staged = keys.staged()
    assert staged is not None and cipherdb.opens_with(folder / "alpr.db", crypto.database_key(staged))
    with open_store(folder) as s:  # finds the database under the staged key and completes the swap
        assert s.count() == 3 and s.image_bytes(ids[0], "crop")[:3] == b"\xff\xd8\xff"
    assert keys.path.read_bytes() == staged and keys.staged() is None


def test_a_rotation_cut_before_the_commit_leaves_the_old_key_in_charge(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    filled(folder)
    keys = keys_for(folder)
    old = keys.path.read_bytes()
    keys.stage(os.urandom(32))  # what a cut during the export leaves behind
    (folder / "alpr.db.rekey").write_bytes(os.urandom(4096))
    with open_store(folder) as s:
        assert s.count() == 3
    assert keys.path.read_bytes() == old and keys.staged() is None and not (folder / "alpr.db.rekey").exists()


# -- wipe (DS-5) ----------------------------------------------------------------------

def test_wipe_needs_confirmation_then_leaves_nothing_that_opens(tmp_path: Path) -> None:
    folder, keys = tmp_path / "store", keys_for(tmp_path / "store")
    filled(folder)
    before = snapshot(folder)
    with pytest.raises(StoreError, match="--yes-destroy-all-data"):
        wipe(folder, keys)
    assert snapshot(folder) == before and keys.path.exists()
    key = keys.path.read_bytes()
    key_fd, db_fd = os.open(keys.path, os.O_RDONLY), os.open(folder / "alpr.db", os.O_RDONLY)
    try:  # descriptors held across the wipe see what became of the bytes, not just the names
        report = wipe(folder, keys, confirm=True)
        assert os.pread(key_fd, 32, 0) != key
        head = os.pread(db_fd, 4096, 0)
    finally:
        os.close(key_fd)
        os.close(db_fd)
    assert str(keys.path) in report.destroyed and not keys.path.exists()
    assert head[:16] != before["alpr.db"][:16]  # SQLCipher's salt is gone (page HMACs no longer verify)
    assert sorted(p.name for p in folder.iterdir()) == ["WIPED"]
    with pytest.raises(StoreError, match="was crypto-wiped .* delete the folder to start a new store"):
        open_store(folder)
    copy = tmp_path / "copy"  # a disk image taken before the wipe
    copy.mkdir()
    for name, data in before.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    with pytest.raises(StoreError, match="is missing and the store already holds"):
        Store.open(copy, keys=keys)


# -- damaged images and integrity at start ----------------------------------------------

def test_a_corrupt_image_marks_only_that_image_damaged(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    ids = filled(folder)
    with open_store(folder) as s:
        crop = s.image_path(ids[0], "crop")
        data = bytearray(crop.read_bytes())
        data[len(data) // 2] ^= 0x01
        crop.write_bytes(bytes(data))
        s.image_path(ids[1], "frame").write_bytes(s.image_path(ids[2], "frame").read_bytes())  # swapped file
        s.image_path(ids[2], "crop").unlink()
        for read_id, kind, words in ((ids[0], "crop", "fails authentication"),
                                     (ids[1], "frame", "fails authentication"), (ids[2], "crop", "missing")):
            with pytest.raises(ImageDamagedError, match=f"the {kind} of read {read_id} is damaged: .*{words}"):
                s.image_bytes(read_id, kind)
        assert s.image_bytes(ids[0], "frame")[:3] == b"\xff\xd8\xff"
        assert s.image_bytes(ids[2], "frame")[:3] == b"\xff\xd8\xff"
    with open_store(folder) as s:  # the store still opens; the marks stay
        assert [s.get_read(i).damaged for i in ids] == [("crop",), ("frame",), ("crop",)]


def test_the_web_ui_serves_images_decrypted_in_memory_and_a_damaged_one_as_404(tmp_path: Path, monkeypatch) -> None:
    from test_webui import build, sign_in
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "credentials"))  # the default key, as under systemd
    folder = tmp_path / "store"
    with Store.open(folder) as s:
        for i, p in enumerate(PLATES[:2]):
            s.add_read(small_read(p, i))
        ids = [r.id for r in s.latest_reads(2)]
        users.create_user(s, "alice", PASSWORD, "operator", hasher=users.cheap_hasher())
        users.set_mfa_required(s, "alice", False, actor="test")  # MFA and the gates: test_access_control.py
        today = datetime.now(timezone.utc)
        training.add_record(s, "alice", "ALPR use", "2026.1", today.date(), today.date() + timedelta(days=365),
                            actor="test", now=today)
        s.image_path(ids[1], "crop").write_bytes(b"\0" * 64)
    assert (tmp_path / "credentials" / "store-key").stat().st_size == 32
    app = build(folder)
    try:
        client = app.test_client()
        sign_in(client)
        r = client.get(f"/reads/{ids[0]}/crop")
        assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
        assert client.get(f"/reads/{ids[1]}/crop").status_code == 404
        assert client.get(f"/reads/{ids[1]}/frame").status_code == 200
    finally:
        app.extensions["alpr"].store.close()
    with Store.open(folder) as s:
        assert s.get_read(ids[1]).damaged == ("crop",)


def test_a_corrupt_database_page_fails_the_integrity_check_at_open(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    filled(folder)
    with open(folder / "alpr.db", "r+b") as f:
        f.seek(4096 + 100)  # inside page 2
        b = f.read(1)
        f.seek(4096 + 100)
        f.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(StoreError, match="fails its integrity check"):
        open_store(folder)


# -- the v1 upgrade -------------------------------------------------------------------

def make_v1_store(folder: Path, reads) -> dict[tuple[str, str], bytes]:
    """A store as v1 wrote it: the frozen v1 schema in plain SQLite, plain JPEGs; returns the JPEGs."""
    import cv2
    (folder / "images" / ".incoming").mkdir(parents=True)
    conn = sqlite3.connect(folder / "alpr.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    for sql in MIGRATIONS[1]:
        conn.execute(sql)
    conn.execute("INSERT INTO schema_version VALUES (1, '2026-11-01T00:00:00.000Z')")
    jpegs = {}
    for r in reads:
        day = r.first_seen.strftime("%Y-%m-%d")
        (folder / "images" / day).mkdir(exist_ok=True)
        for kind, img in (("crop", r.crop), ("frame", r.frame)):
            jpegs[r.id, kind] = cv2.imencode(".jpg", img)[1].tobytes()
            (folder / "images" / day / f"{r.id}.{kind}.jpg").write_bytes(jpegs[r.id, kind])
        conn.execute("INSERT INTO reads VALUES (?, 'dev-1', 'cam0', ?, 0.9, '[0.9]', '[]', ?, ?, 1, 1, 2, 3, 4, "
                     "'left', 5, ?, ?, '2026-11-30T04:21:08.000Z')",
                     (r.id, r.text, to_rfc3339(r.first_seen), to_rfc3339(r.last_seen),
                      f"images/{day}/{r.id}.crop.jpg", f"images/{day}/{r.id}.frame.jpg"))
    conn.execute("INSERT INTO users (username, password_hash, role, created_at) "
                 "VALUES ('bob', '$argon2id$x', 'operator', '2026-11-01T00:00:00.000Z')")
    conn.close()
    return jpegs


def test_a_v1_store_is_encrypted_at_open_and_its_plaintext_removed(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    reads = [small_read(p, i) for i, p in enumerate(PLATES)]
    jpegs = make_v1_store(folder, reads)
    v1_db = (folder / "alpr.db").read_bytes()
    assert leaks(folder) != []  # the check below can fail
    with open_store(folder) as s:
        assert [r.text for r in s.latest_reads(10)] == PLATES[::-1]
        assert {(i, k): s.image_bytes(i, k) for i, k in jpegs} == jpegs  # the very same JPEG bytes
        assert users.find_user(s, "bob") is not None
    assert leaks(folder) == [] and sorted(p.name for p in folder.iterdir()) == ["alpr.db", "images"]
    assert raw(folder).execute("SELECT max(version) FROM schema_version").fetchone() == (LATEST,)

    # A cut after the commit, before the plaintext was destroyed: the next open finishes the cleanup.
    (folder / "alpr.db.v1").write_bytes(v1_db)
    for (read_id, kind), data in jpegs.items():
        (folder / "images" / "2026-11-30" / f"{read_id}.{kind}.jpg").write_bytes(data)
    open_store(folder).close()
    assert leaks(folder) == [] and not (folder / "alpr.db.v1").exists()


def test_a_v1_upgrade_cut_before_its_commit_starts_over(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    jpegs = make_v1_store(folder, [small_read(p, i) for i, p in enumerate(PLATES)])
    os.replace(folder / "alpr.db", folder / "alpr.db.v1")  # as the upgrade's first step leaves it
    (folder / "alpr.db.encrypting").write_bytes(os.urandom(4096))  # a half-built copy
    with open_store(folder) as s:
        assert s.count() == 3 and {(i, k): s.image_bytes(i, k) for i, k in jpegs} == jpegs
    assert leaks(folder) == [] and sorted(p.name for p in folder.iterdir()) == ["alpr.db", "images"]


# -- SIGKILL of the writer -------------------------------------------------------------

WRITER = r"""
import sys
from datetime import datetime, timezone
from pathlib import Path
import numpy as np
from appliance.ids import uuid7
from appliance.store import LocalKeyFile, Store
from appliance.types import Read
store = Store.open(Path(sys.argv[1]), keys=LocalKeyFile(Path(sys.argv[2])))
rng = np.random.default_rng(int(sys.argv[3]))
print("ready", flush=True)
i = 0
while True:
    now = datetime.now(timezone.utc)
    read = Read(id=uuid7(), device_id="dev", camera_id="cam", text=f"K{i:06d}", confidence=0.9,
                char_confidences=(0.9,) * 7, alternatives=(), first_seen=now, last_seen=now, clock_synced=True,
                box=(0, 0, 72, 24), direction="left", frames_seen=3,
                crop=rng.integers(0, 255, (24, 72, 3), dtype=np.uint8),
                frame=rng.integers(0, 255, (60, 80, 3), dtype=np.uint8))
    store.add_read(read)
    print(read.id, flush=True)  # acknowledged: add_read returned
    i += 1
"""


def test_every_acknowledged_read_survives_sigkill_of_the_writer(tmp_path: Path) -> None:
    folder, keys = tmp_path / "store", keys_for(tmp_path / "store")
    open_store(folder).close()
    rnd = random.Random(5)
    acked: list[str] = []
    for cycle in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(keys.path), str(cycle)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
            seen = "".join(proc.stdout.readline() for _ in range(rnd.randint(3, 30)))  # a new point each cycle
            os.kill(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate(timeout=30)
        finally:
            proc.kill()
        lines = (seen + out).split("\n")[:-1]  # a last line without its newline was not acknowledged
        acked += [line for line in lines if line]
    assert len(acked) >= 5
    with open_store(folder) as s:  # opens, passes its integrity check
        for read_id in acked:
            assert s.get_read(read_id) is not None, read_id
            assert s.image_bytes(read_id, "crop")[:3] == b"\xff\xd8\xff"
            assert s.image_bytes(read_id, "frame")[:3] == b"\xff\xd8\xff"


# -- the admin commands (wired into `alpr` by cli.py) -------------------------------------

def store_command(*args: str) -> int:
    import argparse
    from appliance.store import command
    parser = argparse.ArgumentParser(prog="alpr")
    command.add_parser(parser.add_subparsers(dest="command", required=True))
    a = parser.parse_args(["store", *args])
    return a.func(a)


def test_the_store_commands_rotate_and_wipe_only_with_the_confirmation(tmp_path: Path, capsys) -> None:
    folder, keys = tmp_path / "store", keys_for(tmp_path / "store")
    filled(folder)
    where = ["--store", str(folder), "--key-file", str(keys.path)]
    old = keys.path.read_bytes()
    assert store_command("rotate-key", *where) == 0
    assert "3 reads kept, 6 image keys re-wrapped" in capsys.readouterr().out and keys.path.read_bytes() != old
    assert store_command("wipe", *where) == 2
    assert "--yes-destroy-all-data" in capsys.readouterr().out
    with open_store(folder) as s:
        assert s.count() == 3
    assert store_command("wipe", *where, "--yes-destroy-all-data") == 0
    assert "crypto-wiped" in capsys.readouterr().out and not keys.path.exists()
    with pytest.raises(StoreError, match="crypto-wiped"):
        open_store(folder)
