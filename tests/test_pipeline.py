"""The device loop end to end: a generated drive-by in, one stored Read per vehicle out."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance.config import Config
from appliance.pipeline import DropOldestQueue, Pipeline
from appliance.runtime import build_pipeline, build_recognizers, build_tracker
from appliance.store.store import Store
from appliance.synth.driveby import standard_driveby
from firmware.camera.replay import ReplayCamera

REPO = Path(__file__).resolve().parents[1]
FPS = 15


def _config(store: Path, **tracker) -> Config:
    base = Config()
    return replace(base, store=replace(base.store, path=store),
                   tracker=replace(base.tracker, max_gap_s=0.5, **tracker))


def _run_until_done(pipeline: Pipeline, camera: ReplayCamera, timeout: float = 120) -> None:
    pipeline.start()
    deadline = time.monotonic() + timeout
    while not camera.status().ended and time.monotonic() < deadline:
        time.sleep(0.1)
    while (len(pipeline.frames) or pipeline.health.processed < pipeline.health.captured - pipeline.frames.dropped) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pipeline.stop(timeout=5.0)


@pytest.fixture(scope="module")
def drive():
    d = standard_driveby(seed=3, count=6)
    return d, list(d.frames())


@pytest.mark.parametrize("keep_every", [1, 2], ids=["all-frames", "half-dropped"])
def test_driveby_gives_exactly_one_read_per_vehicle(tmp_path, drive, keep_every):
    d, frames = drive
    cfg = _config(tmp_path / "store")
    camera = ReplayCamera(frames[::keep_every], fps=FPS / keep_every, loop=False, camera_id="test")
    store = Store.open(cfg.store.path)
    pipeline = build_pipeline(cfg, store, camera=camera)
    _run_until_done(pipeline, camera)
    texts = [r.text for r in store.latest_reads(100)]
    assert collections.Counter(texts) == collections.Counter(d.plates), texts
    for r in store.latest_reads(100):
        assert store.image_path(r.id, "crop").is_file() and store.image_path(r.id, "frame").is_file()
    store.close()


def test_drop_oldest_queue_counts_and_keeps_the_newest():
    q = DropOldestQueue(2)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3 and len(q) == 2
    assert q.get(0.1) == (0, 3) and q.get(0.1) == (1, 4) and q.get(0.01) is None


def test_camera_that_dies_is_reopened(tmp_path):
    blank = np.full((360, 640, 3), 90, np.uint8)
    passes = {"n": 0}

    def flaky():
        passes["n"] += 1
        for i in range(5):
            if passes["n"] == 1 and i == 3:
                raise OSError("USB camera unplugged")
            yield blank

    camera = ReplayCamera(flaky, fps=50, loop=True, camera_id="flaky")
    cfg = _config(tmp_path / "store")
    store = Store.open(cfg.store.path)
    pipeline = Pipeline(camera, build_recognizers(cfg), build_tracker(cfg), store.add_read, reopen_backoff_s=0.05)
    pipeline.start()
    deadline = time.monotonic() + 30
    while pipeline.health.captured < 12 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pipeline.stop(timeout=5.0)
    store.close()
    assert pipeline.health.camera_errors >= 1 and passes["n"] >= 3 and pipeline.health.captured >= 12


def test_sigterm_during_a_run_loses_no_complete_read(tmp_path, drive):
    d, frames = drive
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i:04d}.jpg"), f)
    store_dir = tmp_path / "store"
    (tmp_path / "alpr.toml").write_text(
        f'[camera]\nbackend = "replay"\nsource = "{folder}"\nfps = {FPS}\nloop = true\ncamera_id = "pole"\n'
        f'[tracker]\nmax_gap_s = 0.5\n[store]\npath = "{store_dir}"\n[web]\nhost = "127.0.0.1"\ntls = false\n'
        f'[io]\nbackend = "simulated"\nstatus_led = 27\nalert_relay = 17\n')  # pins on gpiozero's mock factory
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(tmp_path / "alpr.toml")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        before = 0
        while before < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if (store_dir / "alpr.db").exists():
                with Store.open(store_dir) as s:
                    before = s.count()
        assert before >= 3, "the device process stored no reads"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert time.monotonic() - t0 < 15
    finally:
        proc.kill()
    with Store.open(store_dir) as s:
        reads = s.latest_reads(1000)
        assert len(reads) >= before
        assert {r.text for r in reads} <= set(d.plates)
        for r in reads:
            assert s.image_path(r.id, "crop").is_file() and s.image_path(r.id, "frame").is_file()
