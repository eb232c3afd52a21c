"""Assembly: the only place that turns a Config into real collaborators (STYLE.md rule 2).

`alpr run` and `alpr demo` both build their device loop here, so a demo runs exactly
the code a pole-mounted device runs, with a replay camera chosen by configuration.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import appliance
from appliance.alerts import AlertingWriter, AlertSink
from appliance.alerts.retro import RetroMatcher
from appliance.alerts.watch import AlertWatch
from appliance.config import Config
from appliance.settings import effective_settings
from appliance.edge import build_edge
from appliance.hotlists.repository import MatcherCache
from appliance.hub.device_secret import store_keys
from appliance.hub.forwarder import Forwarder
from appliance.hub.tls import session_from_config
from appliance.hub.link import build_hub_workers
from appliance.provision.renewal import certificate_report
from appliance.pipeline import Pipeline
from appliance.recognition.detector import PlateDetector
from appliance.recognition.engine import Recognizer
from appliance.recognition.reader import PlateReader
from appliance.audit import anchors, signing
from appliance.store.retention import PurgeSchedule, RetentionPolicy, Watermarks
from appliance.store.store import Store
from appliance.tracker import Tracker
from appliance.users import disable_inactive
from appliance.update.health_mark import HealthMarker
from firmware.camera import make_camera
from firmware.watchdog import FrameFlowCheck, Notifier, Watchdog

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
                       min_confidence=r.min_confidence, weak_threshold=r.weak_threshold) for _ in range(r.workers)]


def build_tracker(cfg: Config) -> Tracker:
    t = cfg.tracker
    return Tracker(cfg.device.id, max_gap_s=t.max_gap_s, reread_interval_s=t.reread_interval_s,
                   min_frames=t.min_frames, min_confidence=t.min_confidence, frame_max_width=t.frame_max_width)


def store_housekeeping(cfg: Config, store: Store):
    """Daily retention purge and the capacity watermark, run on the store's writer thread."""
    marks = Watermarks.from_config(cfg.store)
    schedule = PurgeSchedule(store.last_purge())
    sweep = PurgeSchedule()  # daily: accounts idle 90 days are disabled, their sessions end (AC-3; logged)
    access_purge = PurgeSchedule()  # daily: access records past their period, leaving a signed anchor (LG-5)

    def _settings() -> Config:
        return effective_settings(cfg, store)

    def run() -> None:
        # retention periods as an administrator last set them (settings page), read when due
        schedule.run_if_due(lambda now: store.purge(now, RetentionPolicy.from_config(_settings().store)))
        access_purge.run_if_due(lambda now: anchors.purge(store, now, _settings().store.retention_access_days,
                                                          lambda: signing.load_signer(store.key_folder)))
        store.free_space(marks)
        sweep.run_if_due(lambda now: disable_inactive(store, now))
    return run


def open_store(cfg: Config, keys=None) -> Store:
    """The configured store (unlocked as store.unlock says); store alarms (disk full, capacity purge) go to the log."""
    keys = keys if keys is not None else store_keys(cfg)  # local key file, or hub-bound (DS-5)
    return Store.open(Path(cfg.store.path), keys=keys, frame_max_width=cfg.tracker.frame_max_width,
                      keep_frame=cfg.store.keep_frame, watermarks=Watermarks.from_config(cfg.store),
                      on_alarm=lambda message: log.error("store alarm: %s", message))


def build_pipeline(cfg: Config, store: Store, camera=None, alert_sinks=()) -> Pipeline:
    """The device loop for `cfg`; `camera` overrides the configured one (tests, demo).

    Each Read is matched against the stored hotlists on the writer thread and stored with
    its alerts in one transaction; `alert_sinks` (relay, LED) are called after the commit.
    The first Matcher is built here, before any read (start-up waits seconds for a huge list);
    later list changes are indexed on their own thread while the writer keeps the old one.
    """
    camera = camera or make_camera(cfg.camera.backend, **camera_options(cfg))
    matchers = MatcherCache(store)
    matchers.prepare()
    writer = AlertingWriter(store, matchers, sinks=list(alert_sinks))
    return Pipeline(camera, build_recognizers(cfg), build_tracker(cfg), writer,
                    housekeeping=store_housekeeping(cfg, store))


def build_forwarder(cfg: Config, store: Store) -> Forwarder | None:
    """The hub forwarder when `hub.url` is set (its own thread and store connection), else None."""
    if not cfg.hub.url:
        return None
    return Forwarder(store, cfg.hub.url, cfg.device.id, interval_s=cfg.hub.push_interval_s,
                     session=session_from_config(cfg.hub))  # tls.py: CA pinned, mTLS, token, TLS >= 1.2


def wait_for_signal(stop: threading.Event) -> None:
    """Block until SIGTERM or SIGINT (Ctrl-C) sets `stop`."""
    def handler(signum: int, _frame) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(0.5):
        pass


def open_io(cfg: Config):
    """The configured pin board (relay, LED, illuminator, inputs), or None for io.backend = none."""
    if cfg.io.backend == "none":
        return None
    from firmware.io import IoPins, LedPattern, make_io
    board = make_io(cfg.io.backend, IoPins(cfg.io.ir_illuminator, cfg.io.status_led, cfg.io.alert_relay,
                                          cfg.io.tamper_switch, cfg.io.loop_detector, cfg.io.ir_cut),
                    driver_options={"chip": cfg.io.gpiod_chip} if cfg.io.backend == "gpiod" else None)
    board.set_led(LedPattern.STARTING)
    board.start()
    return board


def run_device(cfg: Config, stop: threading.Event | None = None) -> int:
    """`alpr run`: the device process until SIGTERM; nothing complete is lost on the way out."""
    stop = stop or threading.Event()
    store = open_store(cfg)
    cfg = effective_settings(cfg, store)  # policy settings an administrator changed overlay the file
    board = open_io(cfg)
    sink = AlertSink(board) if board else None
    # The edge (appliance/edge.py): day/night, sampled frame tamper checks, the door (alert, the
    # LG-6 tamper event, optional data lock), trigger bursts, health sampling and the LED from it.
    edge = build_edge(cfg, store, make_camera(cfg.camera.backend, **camera_options(cfg)), board, sink)
    pipeline = build_pipeline(cfg, store, camera=edge.camera, alert_sinks=[sink] if sink else ())
    edge.health.pipeline_health = lambda: pipeline.health.snapshot(pipeline.frames)
    # Retrospective hits when the lists change; the LED leaves ALERT once the UI acknowledged the last one.
    alert_watch = AlertWatch(store, RetroMatcher(store, pipeline.write_read), [sink] if sink else ())
    forwarder = build_forwarder(cfg, store)
    hub_workers = build_hub_workers(store, forwarder, hotlist_refresh_s=cfg.hub.hotlist_refresh_s,
                                    heartbeat_s=cfg.hub.heartbeat_interval_s, pipeline=pipeline,
                                    certificates=lambda: certificate_report(cfg))
    edge.start()
    pipeline.start()
    alert_watch.start()
    edge.running()
    if forwarder is not None:
        forwarder.start()
        log.info("pushing to the hub at %s every %.0f s", cfg.hub.url, cfg.hub.push_interval_s)
        hub_workers.start()  # hotlists now and every hub.hotlist_refresh_s; heartbeats (hub/link.py)
    # systemd (Type=notify): ready once running; the watchdog is petted only while frames
    # flow and every pipeline thread lives, so a stalled device is restarted.
    notifier = Notifier()
    flowing = FrameFlowCheck(lambda: edge.camera.last_frame_monotonic, workers=pipeline.workers_alive())
    watchdog = Watchdog(notifier, flowing)
    # what `alpr update` waits for: healthy as the watchdog sees it, and at least one frame through
    marker = HealthMarker(cfg.update.health_file, appliance.version, lambda: flowing() or (
        None if edge.camera.last_frame_monotonic is not None else "no frame yet"))  # gated frames count too
    notifier.ready(f"reading plates from {cfg.camera.camera_id}")
    watchdog.start()
    marker.start()
    log.info("running: camera %s (%s), %d worker(s)", cfg.camera.camera_id, cfg.camera.backend, cfg.recognition.workers)
    try:
        wait_for_signal(stop)
    finally:
        notifier.stopping()
        watchdog.stop()
        marker.stop()
        alert_watch.stop()
        clean = pipeline.stop(timeout=5.0)
        edge.stop()
        if forwarder is not None:  # after the pipeline: its last reads are in the outbox for next time
            clean = hub_workers.stop() and clean
            clean = forwarder.stop() and clean
        store.close()
        if board:
            board.close()
    return 0 if clean else 1
