"""Assembly: the only place that turns a Config into real collaborators (STYLE.md rule 2).

`alpr run` and `alpr demo` both build their device loop here, so a demo runs exactly
the code a pole-mounted device runs, with a replay camera chosen by configuration.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from appliance.config import Config
from appliance.pipeline import Pipeline
from appliance.recognition.detector import PlateDetector
from appliance.recognition.engine import Recognizer
from appliance.recognition.reader import PlateReader
from appliance.store.store import Store
from appliance.tracker import Tracker
from firmware.camera import make_camera

log = logging.getLogger(__name__)


def camera_options(cfg: Config) -> dict:
    """Keyword options of the configured camera backend."""
    c = cfg.camera
    if c.backend == "replay":
        return {"source": c.source, "fps": c.fps, "loop": c.loop, "camera_id": c.camera_id}
    return {"source": c.source, "width": c.width, "height": c.height, "fps": c.fps, "camera_id": c.camera_id}


def build_recognizers(cfg: Config) -> list[Recognizer]:
    """One Recognizer per worker: each owns its onnxruntime sessions."""
    r = cfg.recognition
    return [Recognizer(PlateReader(threads=r.threads),
                       PlateDetector(threads=r.threads, threshold=r.detector_threshold),
                       min_confidence=r.min_confidence) for _ in range(r.workers)]


def build_tracker(cfg: Config) -> Tracker:
    t = cfg.tracker
    return Tracker(cfg.device.id, max_gap_s=t.max_gap_s, reread_interval_s=t.reread_interval_s,
                   min_frames=t.min_frames, min_confidence=t.min_confidence, frame_max_width=t.frame_max_width)


def build_pipeline(cfg: Config, store: Store, camera=None) -> Pipeline:
    """The device loop for `cfg`; `camera` overrides the configured one (tests, demo)."""
    camera = camera or make_camera(cfg.camera.backend, **camera_options(cfg))
    return Pipeline(camera, build_recognizers(cfg), build_tracker(cfg), store.add_read)


def wait_for_signal(stop: threading.Event) -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C) sets `stop`."""
    def handler(signum: int, _frame) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(0.5):
        pass


def run_device(cfg: Config, stop: threading.Event | None = None) -> int:
    """`alpr run`: the device process until SIGTERM; nothing complete is lost on the way out."""
    stop = stop or threading.Event()
    store = Store.open(Path(cfg.store.path), frame_max_width=cfg.tracker.frame_max_width)
    pipeline = build_pipeline(cfg, store)
    pipeline.start()
    log.info("running: camera %s (%s), %d worker(s)", cfg.camera.camera_id, cfg.camera.backend, cfg.recognition.workers)
    try:
        wait_for_signal(stop)
    finally:
        clean = pipeline.stop(timeout=5.0)
        store.close()
    return 0 if clean else 1
