"""Picamera2Camera: a Raspberry Pi camera through picamera2/libcamera at a fixed short exposure.

Auto-exposure would lengthen the shutter at dusk and smear every plate, so exposure and
gain are fixed (`AeEnable=False`) from the posted speed limit; `set_exposure` lets the
day/night logic change them. Frames carry the sensor's own timestamp (request metadata
`SensorTimestamp`, ns on CLOCK_MONOTONIC), closer to the true capture time than any
Python clock. picamera2 is imported only here: it needs libcamera from apt.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from firmware.camera.base import (
    BackendMissing,
    CameraConfigError,
    CameraFailed,
    CameraStatus,
    CameraUnavailable,
    check_fps,
    check_timeout,
)
from firmware.camera.clock import Clock, SystemClock
from firmware.camera.exposure import GAIN_LIMITS, check_gain, choose_shutter_us
from firmware.camera.frame import Frame
from firmware.camera.reopen import Reopening

log = logging.getLogger(__name__)


def import_picamera2() -> Any:
    """The Picamera2 class, or BackendMissing saying how to get it."""
    try:
        return importlib.import_module("picamera2").Picamera2
    except ImportError as exc:  # also libcamera missing underneath picamera2
        raise BackendMissing(
            f"camera backend 'picamera2' cannot load picamera2 ({exc}): on Raspberry Pi OS run "
            "'apt install python3-picamera2', make the venv with --system-site-packages and "
            "install the [pi] extra; elsewhere use camera.backend 'opencv' or 'replay'") from None


class Picamera2Camera(Reopening):
    """Camera number `source` at `width`x`height`, `fps`, shutter from `speed_limit_mph`."""

    backend = "picamera2"

    def __init__(self, source: int | str = 0, width: int = 1920, height: int = 1080, fps: float = 30.0,
                 camera_id: str = "cam0", *, speed_limit_mph: float = 35.0, shutter_us: int | None = None,
                 analogue_gain: float = 4.0, gain_limits: tuple[float, float] = GAIN_LIMITS,
                 clock: Clock | None = None, reopen_after: float = 5.0) -> None:
        if isinstance(source, str) and source.strip().isdigit():
            source = int(source)
        if isinstance(source, bool) or not isinstance(source, int) or source < 0:
            raise CameraConfigError(f"picamera2 source must be a camera number such as 0; got {source!r}")
        self.camera_num, self.width, self.height = source, width, height
        self.fps = check_fps(fps, allow_none=False) or 30.0
        self.camera_id = camera_id
        self.speed_limit_mph = speed_limit_mph
        self.shutter_us = choose_shutter_us(speed_limit_mph, shutter_us)
        self.gain_limits = gain_limits
        self.analogue_gain = check_gain(analogue_gain, gain_limits)
        self.clock: Clock = clock or SystemClock()
        self.reopen_after = reopen_after
        self._Picamera2 = import_picamera2()  # fail at start-up, not at the first frame
        self._cam: Any = None
        self._opened = False
        self._index = self._reconnects = 0
        self._last_frame: float | None = None
        self._last_error: str | None = None
        self._retry_at: float | None = None

    def controls(self) -> dict[str, Any]:
        """libcamera controls for fixed exposure at the configured frame rate."""
        period = int(1e6 / self.fps)
        return {"ExposureTime": self.shutter_us, "AnalogueGain": self.analogue_gain,
                "AeEnable": False, "FrameDurationLimits": (period, period)}

    def set_exposure(self, shutter_us: int | None = None, analogue_gain: float | None = None) -> None:
        """Change exposure while running (day/night switching); limits are checked again."""
        if shutter_us is not None:
            self.shutter_us = choose_shutter_us(self.speed_limit_mph, shutter_us)
        if analogue_gain is not None:
            self.analogue_gain = check_gain(analogue_gain, self.gain_limits)
        if self._cam is not None:
            self._cam.set_controls({"ExposureTime": self.shutter_us, "AnalogueGain": self.analogue_gain})

    # -- Camera --------------------------------------------------------------------
    def open(self) -> None:
        self.close()
        cameras = self._Picamera2.global_camera_info()
        if self.camera_num >= len(cameras):
            raise CameraUnavailable(f"picamera2 camera {self.camera_num} not found; {len(cameras)} camera(s) "
                                    "attached: check the ribbon cable and the camera overlay in config.txt")
        self._start()
        self._opened = True

    def read(self, timeout: float) -> Frame | None:
        timeout = check_timeout(timeout)
        if not self._opened:
            raise CameraFailed(f"camera {self.camera_id} is not open: call open() before read()")
        if self._cam is None and not self._try_reopen(timeout):
            return None
        try:
            with self._cam.captured_request(wait=timeout) as request:
                image = request.make_array("main")
                meta = request.get_metadata()
        except TimeoutError:
            return None
        except Exception as exc:  # libcamera errors are plain RuntimeErrors
            self._fail(f"capture failed: {type(exc).__name__}: {exc}")
            return None
        return self._deliver(image, meta)

    def close(self) -> None:
        self._stop()
        self._opened = False

    def status(self) -> CameraStatus:
        return CameraStatus(camera_id=self.camera_id, backend=self.backend,
                            connected=self._opened and self._cam is not None, frames=self._index,
                            reconnects=self._reconnects, last_frame_monotonic=self._last_frame,
                            last_error=self._last_error)

    # -- internals -----------------------------------------------------------------
    def _start(self) -> None:
        cam = self._Picamera2(camera_num=self.camera_num)
        try:
            # RGB888 is stored B,G,R in memory: already the BGR order OpenCV wants.
            config = cam.create_video_configuration(main={"size": (self.width, self.height), "format": "RGB888"},
                                                    controls=self.controls(), buffer_count=4)
            cam.configure(config)
            cam.start()
        except Exception as exc:
            cam.close()
            raise CameraUnavailable(f"picamera2 camera {self.camera_num} would not start: {exc}") from exc
        self._cam = cam
        log.info("camera %s: picamera2 %d at %dx%d, %g fps, shutter %d us, gain %g", self.camera_id,
                 self.camera_num, self.width, self.height, self.fps, self.shutter_us, self.analogue_gain)

    def _stop(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            try:
                cam.stop()
            finally:
                cam.close()

    def _release(self) -> None:
        self._stop()

    def _deliver(self, image: np.ndarray, meta: dict[str, Any]) -> Frame:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] not in (3, 4):
            raise CameraFailed(f"picamera2 gave a {getattr(image, 'shape', type(image))} array; expected HxWx3")
        if image.shape[2] == 4:  # XRGB8888 on some configurations
            image = image[:, :, :3]
        now = self.clock.monotonic()
        ts = meta.get("SensorTimestamp")
        frame = Frame(image=np.ascontiguousarray(image), index=self._index,
                      monotonic=ts / 1e9 if isinstance(ts, int) else now, utc=self.clock.utc(),
                      clock_synced=self.clock.synced(), camera_id=self.camera_id)
        self._index += 1
        self._last_frame = now  # our clock, so the watchdog can compare ages
        return frame
