"""The device's health in one dict: sensors, camera, frame checks (tamper, day/night), the
enclosure door, the data-access lock and the LED, judged worst-wins.

`EdgeHealth.sample()` runs every few seconds on the `edge-health` thread: it reads the
sensors (firmware.health), judges them with the camera and tamper state, sets the status
LED, and writes the snapshot to `edge-health.json` in the store folder so `alpr serve` (another
process) can show it. `health_snapshot()` is the one dict for the heartbeat
(appliance/hub/heartbeat.py): the running device's latest snapshot, or {"status": "not running"}.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.atomic_file import replace_file
from firmware.edge import FrameChecks, led_pattern
from firmware.health import HealthReport, Level, read_health
from firmware.periodic import Periodic
from firmware.watchdog import FRAME_MAX_AGE_S  # one stall limit for the LED and the watchdog

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "edge-health.json"
ALERT_SHOW_S = 60.0  # without acknowledgement tracking, the LED flashes ALERT this long after an alert

_current: EdgeHealth | None = None


def health_snapshot() -> dict[str, Any]:
    """The running device's latest health (plain JSON types), for the heartbeat and the health page."""
    edge = _current
    if edge is None:
        return {"status": "not running"}
    return edge.snapshot()


def read_snapshot_file(folder: Path) -> dict[str, Any] | None:
    """The snapshot `alpr run` last wrote in `folder`, or None (not running here, or unreadable)."""
    try:
        value = json.loads((Path(folder) / SNAPSHOT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


class EdgeHealth:
    """Judges and publishes the device's health; every collaborator is passed in (None = not fitted)."""

    def __init__(self, *, board: Any = None, checks: FrameChecks | None = None, door: Any = None,
                 lock: Any = None, alert_sink: Any = None, burst: Any = None,
                 pipeline_health: Callable[[], dict[str, Any]] | None = None,
                 last_frame: Callable[[], float | None] = lambda: None,
                 read: Callable[[], HealthReport] = read_health, monotonic: Callable[[], float] | None = None,
                 folder: Path | None = None, interval_s: float = 10.0) -> None:
        self.board, self.checks, self.door, self.lock = board, checks, door, lock
        self.alert_sink, self.burst, self.pipeline_health = alert_sink, burst, pipeline_health
        self.last_frame, self.read, self.folder, self.interval_s = last_frame, read, folder, interval_s
        self.monotonic = monotonic or time.monotonic
        self.started = False
        self.started_at: float | None = None  # when the pipeline came up (the stall clock starts there)
        self._alerts_seen = 0
        self._alert_until = 0.0
        self._snapshot: dict[str, Any] = {"status": "starting"}
        self._worker: Periodic | None = None  # made at start(): interval_s may be set until then
        self._sampling = threading.Lock()  # the worker and Edge.running() both sample: one at a time

    # -- sampling ------------------------------------------------------------------
    def sample(self) -> dict[str, Any]:
        """Read everything once, set the LED, publish; returns the snapshot.

        Serialised: the worker samples every interval and Edge.running() once at start-up
        (so the LED leaves STARTING at once); two samples interleaved could publish an
        older snapshot last or count one alert twice.
        """
        with self._sampling:
            return self._sample()

    def _sample(self) -> dict[str, Any]:
        now = self.monotonic()
        report = self.read()
        checks = self.checks.state() if self.checks is not None else None
        last = self.last_frame()
        since = last if last is not None else (self.started_at if self.started_at is not None else now)
        stalled = self.started and now - since > FRAME_MAX_AGE_S
        raised = getattr(self.alert_sink, "raised", 0)
        if raised > self._alerts_seen:
            self._alerts_seen, self._alert_until = raised, now + ALERT_SHOW_S
        door_open = self.board.door_open() if self.board is not None else None
        findings = checks.findings if checks else frozenset()
        level, reasons = report.level, list(report.reasons)
        if stalled:
            level, reasons = Level.FAULT, reasons + [f"no camera frame for {FRAME_MAX_AGE_S:.0f} s"]
        if findings:
            level = max(level, Level.DEGRADED)
            reasons += [f.value for f in sorted(findings, key=lambda f: f.name)]
        lock_state = self.lock.state() if self.lock is not None else None
        if door_open:
            reasons.append("enclosure door open")
        if lock_state is not None:
            reasons.append("plate data locked after the enclosure door opened: an administrator must clear it")
        # An AlertSink that tracks acknowledgement (`showing`, settled by the alert watch) decides
        # how long ALERT shows; a plain sink gets ALERT_SHOW_S after each new alert.
        showing = getattr(self.alert_sink, "showing", None)
        alerting = bool(showing) if showing is not None else now < self._alert_until
        pattern = led_pattern(started=self.started, health=level, findings=findings, door_open=door_open,
                              alerting=alerting, camera_stalled=stalled)
        if self.board is not None:
            self.board.set_led(pattern)
        snap = self._compose(report, checks, level, reasons, pattern.name.lower(), door_open, lock_state)
        self._snapshot = snap
        self._publish(snap)
        return snap

    def snapshot(self) -> dict[str, Any]:
        return dict(self._snapshot)

    def _compose(self, report: HealthReport, checks: Any, level: Level, reasons: list[str], led: str,
                 door_open: bool | None, lock_state: dict | None) -> dict[str, Any]:
        thr = report.throttling
        snap: dict[str, Any] = {
            "status": "ok" if level is Level.OK else level.name.lower(),
            "level": level.name.lower(), "reasons": reasons, "led": led,
            "cpu_temp_c": report.cpu_temp_c, "clock_synced": report.clock_synced,
            "throttled_now": sorted(thr.now) if thr else None,
            "throttled_since_boot": sorted(thr.since_boot) if thr else None,
            "disk_used_percent": round(100 * report.disk.used_fraction, 1) if report.disk else None,
            "emmc": report.emmc,
            "door_open": door_open, "data_locked": lock_state is not None,
            "locked_since": (lock_state or {}).get("since"),
            "doors_opened": getattr(self.door, "opened", 0),
            "alerts_signalled": getattr(self.alert_sink, "raised", 0),
            "trigger_bursts": getattr(self.burst, "bursts", None),
        }
        if self.board is not None:
            snap["illuminator_level"] = getattr(self.board, "illuminator_level", None)
            snap["ir_cut_inserted"] = getattr(self.board, "ir_cut_inserted", None)
        if checks is not None:
            a = checks.last
            snap.update({"night": checks.night, "tamper": [f.name.lower() for f in sorted(checks.findings,
                                                                                       key=lambda f: f.name)],
                         "tamper_reference": checks.has_reference, "frame_checks": checks.samples,
                         "frame_check_ms": round(checks.cost_ms, 2),
                         "scene_mean": round(a.mean, 1) if a else None,
                         "scene_sharpness": round(a.sharpness, 1) if a else None})
        if self.pipeline_health is not None:
            try:
                snap["pipeline"] = dict(self.pipeline_health())
            except Exception:
                log.exception("pipeline health failed")
        return snap

    def _publish(self, snap: dict[str, Any]) -> None:
        if self.folder is None:
            return
        try:
            replace_file(self.folder / SNAPSHOT_FILE, json.dumps(snap, default=str))
        except OSError as exc:  # a full disk must not stop the LED
            log.warning("could not write %s: %s", SNAPSHOT_FILE, exc)

    # -- thread --------------------------------------------------------------------
    def start(self) -> None:
        """Register as the process's health and sample every `interval_s` on a named thread."""
        global _current
        if self._worker is not None:
            raise RuntimeError("the edge health sampler is already running; stop() it before starting it again")
        _current = self
        self._worker = Periodic("edge-health", self.sample, self.interval_s)  # a sample at once, then every interval
        self._worker.start()

    def stop(self) -> None:
        global _current
        if self._worker is not None:
            self._worker.stop(timeout=self.interval_s + 2)
            self._worker = None
        if _current is self:
            _current = None
