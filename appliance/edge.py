"""Assembly of the device edge for `alpr run`: day/night, frame tamper checks, the enclosure
door, the trigger input and health sampling, wired to the IO board, the store and the LED.

`ObservedCamera` wraps the configured camera so every frame passes the edge first (sampled
frame checks, the trigger's burst gate) without the pipeline knowing; `build_edge` makes
the pieces from the config; `Edge.start()/stop()` run them. Nothing here is Flask.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from appliance.health_state import EdgeHealth
from appliance.tamper_door import DoorHandler, TamperLock
from firmware.daynight import DayNight
from firmware.edge import BurstGate, FrameChecks
from firmware.health import read_health
from firmware.tamper import TamperDetector, TamperMonitor

log = logging.getLogger(__name__)

REFERENCE_FILE = "tamper-reference.png"


class ObservedCamera:
    """A Camera that shows each frame to the edge first; in gated mode it holds back frames
    outside a trigger burst (returns None) but still counts them as flowing for the watchdog."""

    def __init__(self, camera: Any, checks: FrameChecks | None, burst: BurstGate | None = None) -> None:
        self.camera, self.checks, self.burst = camera, checks, burst
        self.camera_id = camera.camera_id
        self.last_frame_monotonic: float | None = None

    def open(self) -> None:
        self.camera.open()

    def read(self, timeout: float):
        frame = self.camera.read(timeout)
        if frame is None:
            return None
        self.last_frame_monotonic = frame.monotonic
        if self.checks is not None:
            try:
                self.checks.observe(frame.image, frame.monotonic)
            except Exception:  # a check must never cost a frame
                log.exception("frame checks failed on frame %s", frame.index)
        if self.burst is not None and not self.burst.admit(frame.monotonic):
            return None
        return frame

    def close(self) -> None:
        self.camera.close()

    def status(self):
        return self.camera.status()


def load_reference(folder: Path) -> np.ndarray | None:
    """The install-time reference view saved in the store folder, if any."""
    path = folder / REFERENCE_FILE
    image = cv2.imread(str(path)) if path.exists() else None
    if path.exists() and image is None:
        log.error("tamper reference %s is unreadable; a new one will be taken", path)
    return image


def save_reference(folder: Path):
    def save(image: np.ndarray) -> None:
        if not cv2.imwrite(str(folder / REFERENCE_FILE), image):
            log.error("could not save the tamper reference in %s", folder)
    return save


@dataclass
class Edge:
    """The running edge: what run_device starts, stops and shows."""

    camera: ObservedCamera
    health: EdgeHealth
    checks: FrameChecks
    burst: BurstGate
    door: DoorHandler | None
    lock: TamperLock

    def start(self) -> None:
        self.health.start()

    def running(self) -> None:
        """The pipeline is up: the LED may leave STARTING on the next sample."""
        self.health.started, self.health.started_at = True, self.health.monotonic()
        self.health.sample()

    def stop(self) -> None:
        self.health.stop()


def build_edge(cfg: Any, store: Any, camera: Any, board: Any = None, alert_sink: Any = None) -> Edge:
    """The edge for `cfg` around `camera`, on `board` (None: no pins) and `store`."""
    folder = Path(store.folder)
    daynight = DayNight(board.set_illuminator, board.set_ir_cut) if board is not None else None
    detector = TamperDetector(reference=load_reference(folder))
    checks = FrameChecks(daynight, TamperMonitor(detector), every=cfg.tamper.check_every_frames,
                         illuminator_on=lambda: bool(board is not None and board.illuminator_level > 0),
                         on_reference=save_reference(folder))
    burst = BurstGate(gated=cfg.io.trigger_gates_recognition)
    lock = TamperLock(folder)
    door = None
    if board is not None:
        door = DoorHandler(store, cfg.device.id, alert=alert_sink, lock=lock if cfg.tamper.lock_on_door else None)
        board.on_tamper(door)
        board.on_trigger(burst.trigger)
    observed = ObservedCamera(camera, checks, burst)
    health = EdgeHealth(board=board, checks=checks, door=door, lock=lock, alert_sink=alert_sink, burst=burst,
                        last_frame=lambda: observed.last_frame_monotonic, folder=folder,
                        read=lambda: read_health(data_path=folder))  # the store's disk, as the heartbeat reports
    return Edge(observed, health, checks, burst, door, lock)
