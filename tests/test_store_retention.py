"""Retention and rolling (POLICY RT-1, RT-2, RT-3's hold flag), the disk watermark, a full disk, keep_frame,
schema v3 migrations and search, all on real encrypted stores."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from appliance.errors import StoreError
from appliance.store import Store, crypto, files, schema
from appliance.store.retention import PurgeSchedule, RetentionPolicy, Watermarks, disk_usage_of
from appliance.store.schema import LATEST, MIGRATIONS
from appliance.store.times import to_rfc3339
from test_store import T0, keys_for, make_read, open_store, pattern, raw
from test_store_crypto import make_v1_store

NOW = (T0 + timedelta(days=400)).replace(microsecond=0)  # the store keeps milliseconds
DAY = timedelta(days=1)


def small(text: str, at: datetime = T0, seed: int = 1, **kw):
    return make_read(text, at=at, seed=seed, frame=pattern(120, 160, seed), **kw)


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


def files_of(store: Store, read_id: str) -> list[Path]:
    return sorted((store.folder / "images").rglob(f"{read_id}.*"))


# -- retention (RT-1, RT-2) -------------------------------------------------------------

def test_only_confirmed_unheld_reads_past_their_period_go_and_each_run_is_recorded(store: Store) -> None:
    r = {name: small(name, T0 + timedelta(seconds=i), seed=i) for i, name in
         enumerate(["UNSENT1", "SENTOLD", "HELDOLD", "SENTNEW", "HITYOUNG", "HITOLD"])}
    for name, read in r.items():
        store.add_read(read, hit=name.startswith("HIT"))
    store.mark_confirmed([r["SENTOLD"].id, r["HELDOLD"].id, r["HITOLD"].id], at=T0 + timedelta(hours=1))
    store.mark_confirmed([r["SENTNEW"].id], at=NOW - 10 * DAY)
    store.mark_confirmed([r["HITYOUNG"].id], at=NOW - 40 * DAY)  # a non-hit would be due, a hit is not
    store.set_hold(r["HELDOLD"].id, True)
    doomed = files_of(store, r["SENTOLD"].id) + files_of(store, r["HITOLD"].id)
    assert len(doomed) == 4 and all(p.is_file() for p in doomed)

    report = store.purge(NOW, RetentionPolicy())

    assert {x.text for x in store.latest_reads(10)} == {"UNSENT1", "HELDOLD", "SENTNEW", "HITYOUNG"}
    assert store.get_read(r["UNSENT1"].id).confirmed_at is None  # 400 days old, never sent: stays (RT-1)
    assert (report.reason, report.reads_deleted, report.images_deleted) == ("retention", 2, 4)
    assert report.oldest_read == r["SENTOLD"].last_seen.replace(microsecond=183000)
    assert report.newest_read == r["HITOLD"].last_seen.replace(microsecond=183000)
    assert report.started_at == NOW and report.finished_at >= NOW
    assert report.detail["policy"] == {"non_hit_days": 30, "image_days": 30, "hit_days": 365}
    assert not any(p.exists() for p in doomed)
    assert store.image_bytes(r["HELDOLD"].id, "crop")[:3] == b"\xff\xd8\xff"
    assert store.purge_records() == [report] and store.last_purge() == NOW
    assert report.as_json()["kind"] == "purge" and report.as_json()["started_at"] == to_rfc3339(NOW)

    again = store.purge(NOW + DAY)  # one record per run, even when nothing is due
    assert (again.reads_deleted, again.images_deleted, again.oldest_read) == (0, 0, None)
    store.set_hold(r["HELDOLD"].id, False)  # released: its period has long passed
    released = store.purge(NOW + 2 * DAY)
    assert released.reads_deleted == 1 and store.get_read(r["HELDOLD"].id) is None
    assert [p.id for p in store.purge_records()] == [released.id, again.id, report.id]


def test_confirmation_counts_once_and_hold_needs_a_real_read(store: Store) -> None:
    a, b = small("AAA111"), small("BBB222", T0 + timedelta(seconds=1))
    store.add_read(a)
    store.add_read(b)
    assert store.mark_confirmed([a.id, "0190a000-0000-7000-8000-000000000000"], at=T0) == 1
    assert store.mark_confirmed([a.id, b.id], at=T0 + DAY) == 1  # a keeps its first confirmation
    assert store.get_read(a.id).confirmed_at == T0.replace(microsecond=183000)
    assert store.get_read(b.id).confirmed_at == (T0 + DAY).replace(microsecond=183000)
    store.set_hold(a.id, True)
    assert store.get_read(a.id).hold and not store.get_read(b.id).hold
    with pytest.raises(StoreError, match="there is no read nope in the store to hold"):
        store.set_hold("nope", True)


def test_images_can_go_before_their_metadata_and_hits_keep_theirs(store: Store) -> None:
    plain, hit = small("PLAIN11"), small("HITHIT1", T0 + timedelta(seconds=1))
    store.add_read(plain)
    store.add_read(hit, hit=True)
    store.mark_confirmed([plain.id, hit.id], at=NOW - 10 * DAY)
    report = store.purge(NOW, RetentionPolicy(non_hit_days=30, image_days=7))
    assert (report.reads_deleted, report.images_deleted) == (0, 2)
    kept = store.get_read(plain.id)
    assert kept.text == "PLAIN11" and kept.gone == (("crop", "retention"), ("frame", "retention"))
    assert store.image_bytes(plain.id, "crop") is None and store.image_path(plain.id, "frame") is None
    assert files_of(store, plain.id) == [] and len(files_of(store, hit.id)) == 2
    assert store.get_read(hit.id).images == ("crop", "frame")


def decrypted_pages(folder: Path) -> bytes:
    """Every page of the database and its WAL, decrypted (SQLCipher 4: AES-256-CBC, 4096-byte pages,
    IV and HMAC in an 80-byte reserve), free pages and stale WAL frames included: what a thief with
    the key could recover."""
    key = bytes.fromhex(crypto.database_key(keys_for(folder).load())[2:-1])
    size, reserve = 4096, 80

    def page(data: bytes, first: bool) -> bytes:
        start = 16 if first else 0  # page 1 starts with the salt
        d = Cipher(algorithms.AES(key), modes.CBC(data[size - reserve:size - reserve + 16])).decryptor()
        return d.update(data[start:size - reserve]) + d.finalize()

    out = bytearray()
    db = (folder / "alpr.db").read_bytes()
    for i in range(0, len(db), size):
        out += page(db[i:i + size], i == 0)
    wal = folder / "alpr.db-wal"
    data = wal.read_bytes() if wal.exists() else b""
    for i in range(32, len(data) - 24, 24 + size):  # 32-byte WAL header; each frame: 24-byte header + page
        out += page(data[i + 24:i + 24 + size], int.from_bytes(data[i:i + 4], "big") == 1)
    return bytes(out)


def test_purged_reads_and_their_image_keys_are_unrecoverable(store: Store) -> None:
    gone, kept = small("7GONE11"), small("7KEPT22", T0 + timedelta(seconds=1))
    store.add_read(gone)
    store.add_read(kept)
    conn = raw(store.folder)
    wrapped = conn.execute("SELECT crop_key, frame_key FROM reads WHERE id = ?", (gone.id,)).fetchone()
    conn.close()
    before = decrypted_pages(store.folder)
    assert all(k in before for k in wrapped) and b"7GONE11" in before  # the check below can fail
    sealed = {p.name: p.read_bytes() for p in files_of(store, gone.id)}
    store.mark_confirmed([gone.id], at=T0)
    store.purge(NOW)
    after = decrypted_pages(store.folder)
    assert b"7KEPT22" in after
    assert not any(k in after for k in wrapped) and b"7GONE11" not in after and gone.id.encode() not in after
    assert files_of(store, gone.id) == [] and len(sealed) == 2  # the files are gone too; a copy cannot open


def test_retention_periods_are_checked_and_come_from_the_config() -> None:
    assert RetentionPolicy() == RetentionPolicy(30, 30, 365)  # POLICY RT-1 defaults
    cfg = SimpleNamespace(retention_non_hit_days=14, retention_image_days=3, retention_hit_days=730,
                          capacity_high_percent=92, capacity_low_percent=80)
    assert RetentionPolicy.from_config(cfg) == RetentionPolicy(14, 3, 730)
    assert Watermarks.from_config(cfg) == Watermarks(0.92, 0.80)
    with pytest.raises(ValueError, match="retention hit_days must be a number of days from 0 to 36500; got -1"):
        RetentionPolicy(hit_days=-1)
    with pytest.raises(ValueError, match="retention non_hit_days must be .* got '30'"):
        RetentionPolicy(non_hit_days="30")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"watermark low \(0.9\) must be below high \(0.9\)"):
        Watermarks(0.9, 0.9)
    with pytest.raises(ValueError, match="watermark high must be a fraction of the disk above 0 and at most 1; got 95"):
        Watermarks(95, 85)


def test_the_purge_schedule_runs_daily_retries_a_failure_and_survives_a_restart(store: Store) -> None:
    S0 = T0.replace(microsecond=0)
    clock = [S0]
    sched = PurgeSchedule(store.last_purge(), clock=lambda: clock[0])
    assert sched.due() and sched.next_due() == S0  # never purged: due at once
    assert sched.run_if_due(lambda now: store.purge(now)).started_at == S0
    assert not sched.due() and sched.next_due() == S0 + DAY
    clock[0] = S0 + DAY - timedelta(seconds=1)
    assert sched.run_if_due(lambda now: pytest.fail("ran early")) is None
    clock[0] = S0 + DAY

    def broken(now):
        raise OSError("disk unplugged")
    with pytest.raises(OSError):
        sched.run_if_due(broken)
    assert sched.next_due() == S0 + DAY + timedelta(hours=1)  # retried within the hour, not tomorrow
    clock[0] = S0 + DAY + timedelta(hours=1)
    sched.run_if_due(lambda now: store.purge(now))
    restarted = PurgeSchedule(store.last_purge(), clock=lambda: clock[0])  # seeded from purge_records
    assert restarted.next_due() == S0 + 2 * DAY + timedelta(hours=1)
    clock[0] = S0 - 5 * DAY  # the clock was set back: the last run is "in the future"
    assert restarted.due()


# -- the disk watermark ------------------------------------------------------------------

class FillingDisk:
    """A disk whose use is the real size of the store's image files plus `other` bytes of everything else."""

    def __init__(self, folder: Path, total: int, other: int) -> None:
        self.folder, self.total, self.other = folder, total, other

    def images(self) -> int:
        return sum(p.stat().st_size for p in (self.folder / "images").rglob("*.enc"))

    def __call__(self) -> tuple[int, int]:
        return self.other + self.images(), self.total


def test_the_watermark_deletes_non_hit_images_oldest_first_keeps_metadata_and_raises_the_alarm(tmp_path: Path) -> None:
    alarms: list[str] = []
    store = open_store(tmp_path / "store", on_alarm=alarms.append)
    reads = [small(f"CAP{i:04d}", T0 + timedelta(minutes=i), seed=i) for i in range(10)]
    for i, r in enumerate(reads):
        store.add_read(r, hit=(i == 1))
    store.set_hold(reads[2].id, True)
    store.mark_confirmed([reads[6].id], at=T0)  # the hub has this one: its images go first
    per_read = FillingDisk(store.folder, 1, 0).images() / 10
    disk = FillingDisk(store.folder, total=int(per_read * 100), other=int(per_read * 86))  # 96 % used
    assert store.free_space(Watermarks(0.97, 0.90), disk) is None and alarms == []  # below high: nothing

    report = store.free_space(Watermarks(0.95, 0.90), disk)

    assert report.reason == "capacity" and report.detail["reached_low"] is True
    assert disk()[0] / disk()[1] < 0.90 and report.detail["use_before"] >= 0.95
    order = [reads[i].id for i in (6, 0, 3, 4, 5, 7, 8, 9)]  # confirmed first, then oldest; no hit, no held
    assert len(report.items) >= 5 and sorted(report.items) == sorted(order[:len(report.items)])
    assert report.images_deleted == 2 * len(report.items) and report.reads_deleted == 0
    assert store.count() == 10  # never metadata
    for r in reads:
        s = store.get_read(r.id)
        assert (s.gone == (("crop", "capacity"), ("frame", "capacity"))) == (r.id in report.items)
    assert store.get_read(reads[1].id).images == ("crop", "frame")  # the hit
    assert store.get_read(reads[2].id).images == ("crop", "frame")  # the held read
    assert len(alarms) == 1 and "passed 95%" in alarms[0] and store.alarm == alarms[0]
    assert not any(r.text in alarms[0] for r in reads)  # no plate text in alarms (DS-4)
    assert store.purge_records()[0] == report

    disk.other = int(per_read * 95)  # everything else filled the disk: too little left that may go
    worse = store.free_space(Watermarks(0.95, 0.90), disk)
    assert worse.detail["reached_low"] is False and "still" in alarms[-1]
    assert store.count() == 10 and store.get_read(reads[1].id).images == ("crop", "frame")
    store.close()


# -- a full disk ---------------------------------------------------------------------

class FullDisk:
    """write_atomic that lets `room` files through, then fails as a full disk does."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.real = files.write_atomic

    def __call__(self, path: Path, data: bytes, temp_dir: Path) -> None:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        self.real(path, data, temp_dir)


def test_a_full_disk_keeps_the_metadata_and_raises_the_alarm(tmp_path: Path, monkeypatch) -> None:
    alarms: list[str] = []
    store = open_store(tmp_path / "store", on_alarm=alarms.append)
    monkeypatch.setattr(files, "write_atomic", FullDisk(room=1))
    first, second = small("FULL001"), small("FULL002", T0 + timedelta(seconds=1))
    store.add_read(first)  # the crop fits, the frame does not
    store.add_read(second)  # nothing fits
    assert store.count() == 2
    a, b = store.get_read(first.id), store.get_read(second.id)
    assert a.text == "FULL001" and a.images == ("crop",) and a.gone == (("frame", "disk full"),)
    assert store.image_bytes(first.id, "crop")[:3] == b"\xff\xd8\xff" and store.image_bytes(first.id, "frame") is None
    assert b.gone == (("crop", "disk full"), ("frame", "disk full")) and files_of(store, second.id) == []
    assert len(alarms) == 2 and "full" in alarms[0] and "stored without them" in alarms[0]
    store.close()


def test_write_atomic_removes_its_temp_file_when_the_disk_is_full(tmp_path: Path, monkeypatch) -> None:
    def no_room(fd: int) -> None:  # delayed allocation: a full disk often shows only at fsync
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", no_room)
    with pytest.raises(OSError) as e:
        files.write_atomic(tmp_path / "x.enc", b"sealed bytes", tmp_path)
    monkeypatch.undo()
    assert files.is_disk_full(e.value) and list(tmp_path.iterdir()) == []  # no half file holds the space


def test_a_store_opened_without_room_for_its_reserve_keeps_metadata_only(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    alarms: list[str] = []
    store = open_store(tmp_path / "store", reserve_bytes=free, on_alarm=alarms.append)  # "less than twice free"
    read = small("NOROOM1")
    store.add_read(read)
    assert store.get_read(read.id).gone == (("crop", "disk full"), ("frame", "disk full"))
    assert files_of(store, read.id) == [] and not (store.folder / "images" / ".reserve").exists()
    assert len(alarms) == 1 and "nearly full" in alarms[0]  # raised at open, not again for each read
    store.close()


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A real 8 MiB file system (tmpfs); skips where mounting is not allowed (not root, a container)."""
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root; the injected ENOSPC test covers the same path")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_real_full_file_system_keeps_reads_and_the_watermark_makes_room(tiny_fs: Path, tmp_path: Path) -> None:
    alarms: list[str] = []
    store = Store.open(tiny_fs / "store", keys=keys_for(tmp_path / "store"), on_alarm=alarms.append,
                       reserve_bytes=1 << 20)
    assert (store.folder / "images" / ".reserve").stat().st_size == 1 << 20
    rng = np.random.default_rng(3)
    noisy = lambda i: make_read(f"REAL{i:03d}", at=T0 + timedelta(seconds=i),  # noqa: E731  incompressible
                                crop=rng.integers(0, 255, (64, 192, 3), np.uint8),
                                frame=rng.integers(0, 255, (480, 640, 3), np.uint8))
    ids = []
    for i in range(100):
        read = noisy(i)
        store.add_read(read)  # never raises: the disk fills, the reads keep coming
        ids.append(read.id)
        if alarms:
            break
    assert alarms and "full" in alarms[0] and not (store.folder / "images" / ".reserve").exists()
    paused = [noisy(100 + i) for i in range(20)]  # a few more while full: metadata only, on the reserve's room
    for read in paused:
        store.add_read(read)
    assert len(alarms) == 1  # one alarm when the disk filled, not one per read
    assert store.count() == len(ids) + 20 and store.get_read(paused[-1].id).text == "REAL119"
    assert store.get_read(paused[-1].id).gone == (("crop", "disk full"), ("frame", "disk full"))
    report = store.free_space(Watermarks(0.9, 0.5), disk_usage_of(store.folder))
    used, total = disk_usage_of(store.folder)()
    assert report.detail["reached_low"] and used / total < 0.5 and store.count() == len(ids) + 20
    assert (store.folder / "images" / ".reserve").exists()  # the reserve is back, images resume
    after = noisy(999)
    store.add_read(after)
    assert store.get_read(after.id).images == ("crop", "frame")
    store.close()


# -- keep_frame = false ----------------------------------------------------------------

def test_without_keep_frame_non_hits_keep_only_their_crop(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store", keep_frame=False)
    plain, hit = small("CROPONLY"), small("HITFRAME", T0 + timedelta(seconds=1))
    store.add_read(plain)
    store.add_read(hit, hit=True)
    assert [p.name for p in files_of(store, plain.id)] == [f"{plain.id}.crop.enc"]
    assert store.image_path(plain.id, "frame") is None and store.image_bytes(plain.id, "frame") is None
    assert store.get_read(plain.id).gone == (("frame", "not kept"),)
    assert store.get_read(plain.id).as_json()["images"] == ["crop"] and not store.get_read(plain.id).hit
    assert store.image_bytes(hit.id, "frame")[:3] == b"\xff\xd8\xff" and store.get_read(hit.id).as_json()["hit"]
    store.close()


def test_a_batch_is_checked_whole_before_anything_is_written(store: Store) -> None:
    reads = [small(f"BAT{i:03d}", T0 + timedelta(seconds=i), seed=i) for i in range(3)]
    with pytest.raises(StoreError, match=f"read {reads[0].id} is already stored"):
        store.add_reads_batch([reads[0], reads[1], reads[0]])
    with pytest.raises(ValueError, match="hits must give one flag per read; got 1 for 3 reads"):
        store.add_reads_batch(reads, hits=[True])
    assert store.count() == 0 and list((store.folder / "images").rglob("*.enc")) == []
    assert store.add_reads_batch(reads, hits=[False, True, False]) == 3
    assert [store.get_read(r.id).hit for r in reads] == [False, True, False]
    assert store.add_reads_batch([small("META01", T0 + DAY)], images=False) == 1
    assert store.get_read(store.search(plate="META01")[0].id).images == ()


# -- schema v3 from every earlier version ------------------------------------------------

def make_v2_store(folder: Path, reads) -> None:
    """A store as schema v2 left it: encrypted database without the v3 columns, sealed images."""
    real_latest = schema.LATEST
    schema.LATEST = 2  # the migrations then stop where v2 did
    try:
        open_store(folder).close()
    finally:
        schema.LATEST = real_latest
    master = keys_for(folder).load()
    kek = crypto.wrapping_key(master)
    conn = raw(folder)
    for r in reads:
        day, wrapped = r.first_seen.strftime("%Y-%m-%d"), []
        (folder / "images" / day).mkdir(exist_ok=True)
        for kind in ("crop", "frame"):
            blob, key = crypto.seal(b"\xff\xd8\xff fake jpeg " + kind.encode(), kek, crypto.image_aad(r.id, kind))
            (folder / "images" / day / f"{r.id}.{kind}.enc").write_bytes(blob)
            wrapped.append(key)
        conn.execute("INSERT INTO reads VALUES (?, 'dev-1', ?, ?, 0.9, '[0.9]', '[]', ?, ?, 1, 1, 2, 3, 4, 'left', 5, "
                     "?, ?, '2026-11-30T04:21:08.000Z', ?, ?, 0, 0)",
                     (r.id, r.camera_id, r.text, to_rfc3339(r.first_seen), to_rfc3339(r.last_seen),
                      f"images/{day}/{r.id}.crop.enc", f"images/{day}/{r.id}.frame.enc", *wrapped))
    conn.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_migrates_to_v3_and_rolls(tmp_path: Path, version: int) -> None:
    folder = tmp_path / "store"
    reads = [small(p, T0 + timedelta(seconds=i), seed=i) for i, p in enumerate(["OLD1111", "OLD2222"])]
    (make_v1_store if version == 1 else make_v2_store)(folder, reads)
    if version == 2:
        assert raw(folder).execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
    with open_store(folder) as s:
        got = [s.get_read(r.id) for r in reads]
        assert [(g.hit, g.hold, g.confirmed_at, g.gone) for g in got] == [(False, False, None, ())] * 2
        assert s.image_bytes(reads[0].id, "crop")[:3] == b"\xff\xd8\xff"
        assert [x.text for x in s.search(plate="OLD*")] == ["OLD2222", "OLD1111"]
        s.mark_confirmed([reads[0].id], at=T0)
        assert s.purge(NOW).reads_deleted == 1 and s.count() == 1
    conn = raw(folder)
    assert [v for (v,) in conn.execute("SELECT version FROM schema_version")] == list(range(1, LATEST + 1))
    indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"reads_text", "reads_last_seen", "reads_camera_last_seen", "reads_confirmed_at"} <= indexes
    assert set(MIGRATIONS) == set(range(1, LATEST + 1))


# -- search ---------------------------------------------------------------------------

@pytest.fixture
def searchable(store: Store) -> Store:
    plates = ["7ABC123", "7ABD123", "8XYZ123", "7ABC999", "5KLM456"]
    reads = [make_read(p, at=T0 + timedelta(hours=i), camera_id=f"cam{i % 2}", frame=pattern(60, 80, i))
             for i, p in enumerate(plates)]
    store.add_reads_batch(reads, images=False)
    store.add_read(small("7ABC123", T0 + timedelta(hours=10), camera_id="cam1"))
    return store


@pytest.mark.parametrize("query, texts", [
    ({"plate": "7ABC123"}, ["7ABC123", "7ABC123"]),
    ({"plate": " 7abc123 "}, ["7ABC123", "7ABC123"]),  # case and spaces do not matter
    ({"plate": "7AB*"}, ["7ABC123", "7ABC999", "7ABD123", "7ABC123"]),
    ({"plate": "*123"}, ["7ABC123", "8XYZ123", "7ABD123", "7ABC123"]),
    ({"plate": "7AB?123"}, ["7ABC123", "7ABD123", "7ABC123"]),
    ({"plate": "?ABC*"}, ["7ABC123", "7ABC999", "7ABC123"]),
    ({"plate": "*"}, ["7ABC123", "5KLM456", "7ABC999", "8XYZ123", "7ABD123", "7ABC123"]),
    ({"plate": "7ABC12"}, []),  # exact means exact
    ({"camera": "cam0"}, ["5KLM456", "8XYZ123", "7ABC123"]),
    ({"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)}, ["8XYZ123", "7ABD123"]),
    ({"since": T0 + timedelta(hours=4)}, ["7ABC123", "5KLM456"]),
    ({"camera": "cam1", "until": T0 + timedelta(hours=4)}, ["7ABC999", "7ABD123"]),
    ({"plate": "*123", "camera": "cam1"}, ["7ABC123", "7ABD123"]),
    ({"plate": "7ABC123", "since": T0 + timedelta(hours=1)}, ["7ABC123"]),
])
def test_search_by_exact_and_partial_plate_camera_and_time(searchable: Store, query, texts) -> None:
    assert [r.text for r in searchable.search(**query)] == texts


def test_search_limits_and_refuses_bad_terms_with_the_rule(searchable: Store) -> None:
    assert [r.text for r in searchable.search(plate="7AB*", limit=2)] == ["7ABC123", "7ABC999"]
    for bad, words in [({"plate": "7AB%"}, "plate must be 1-16 characters A-Z, 0-9, '\\?' .* got '7AB%'"),
                       ({"plate": ""}, "plate must be 1-16"), ({"camera": "cam 0"}, "camera must be a camera name"),
                       ({"limit": 0}, "limit must be an integer from 1 to 1000; got 0"),
                       ({"since": T0, "until": T0}, "since must be before until"),
                       ({"since": datetime(2026, 1, 1)}, "timezone-aware")]:
        with pytest.raises(ValueError, match=words):
            searchable.search(**bad)


@pytest.mark.parametrize("query, index", [
    ({"plate": "7ABC123"}, "reads_text"), ({"plate": "7AB*"}, "reads_text"), ({"plate": "*123"}, "reads_text"),
    ({"plate": "7ABC123", "camera": "cam1"}, "reads_text"),
    ({"camera": "cam1"}, "reads_camera_last_seen"), ({"since": T0}, "reads_last_seen"),
])
def test_searches_use_their_index_and_no_full_table_sort(store: Store, query, index) -> None:
    from appliance.store import search as search_module
    seen: list[str] = []
    real = search_module.ReadRow.raw

    def explain(sql, *params):
        plan = store.database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        seen.append([str(row[-1]) for row in plan])
        return real(sql, *params)
    search_module.ReadRow.raw = explain
    try:
        store.search(**query)
    finally:
        search_module.ReadRow.raw = real
    plan = " | ".join(seen[0])
    assert index in plan and "SCAN reads" not in seen[0], plan  # "SCAN reads" alone: a full table scan
    if "plate" not in query:
        assert "TEMP B-TREE" not in plan, plan  # the index gives the newest-first order


# -- the benchmark command -------------------------------------------------------------

def test_bench_store_runs_at_small_n_and_reports_every_figure(tmp_path: Path, capsys) -> None:
    from appliance.store.bench import run_bench
    assert run_bench(2000, as_json=True, folder=tmp_path, image_reads=3) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["insert_metadata_reads_per_s"] > 0 and figures["insert_with_images_reads_per_s"] > 0
    assert set(figures["search"]) >= {"exact", "prefix 7AB*", "suffix *123", "time range 1 h", "camera"}
    assert figures["search"]["exact"]["found"] >= 1
    assert figures["purge"]["reads_deleted"] == 2003 and figures["purge"]["images_deleted"] == 6  # all, the sample too
    assert list(tmp_path.iterdir()) == []  # the throw-away store is gone
    assert run_bench(10) == 2 and "--reads must be at least 1000 (one insert transaction); got 10" in \
        capsys.readouterr().err
