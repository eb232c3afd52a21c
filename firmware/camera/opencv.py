"""OpenCVCamera: a USB camera, an RTSP/HTTP stream or a video file through cv2.VideoCapture.

A camera on a pole loses its stream (a cable, a switch reboot, the camera's own
watchdog). This backend never raises out of `read()` for that: it releases the capture
and reopens it with exponential backoff and jitter, so a fleet does not hammer a camera
in step, and reports the state in `status()` for the health page.
"""

from __future__ import annotations

import logging
import os
import random

import cv2
import numpy as np

from firmware.camera.base import CameraConfigError, CameraFailed, CameraStatus, check_fps, check_timeout
from firmware.camera.clock import Clock, SystemClock
from firmware.camera.frame import Frame

log = logging.getLogger(__name__)


class OpenCVCamera:
    """Frames from `source`: a device index (0 = /dev/video0), a device path, a URL or a file.

    `width`, `height` and `fps` are requested from the device when given (a stream or a
    file keeps its own). When reads fail the capture is reopened after
    `backoff_initial` seconds, doubling up to `backoff_max`, each delay shortened by up to
    `jitter` (a fraction) at random. `open_timeout`/`read_timeout` bound how long FFmpeg
    blocks on a network stream; a USB read blocks at most about one frame time.
    """

    backend = "opencv"

    def __init__(self, source: int | str | os.PathLike, width: int | None = None,
                 height: int | None = None, fps: float | None = None, camera_id: str = "cam0", *,
                 clock: Clock | None = None, rng: random.Random | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, jitter: float = 0.25,
                 open_timeout: float = 10.0, read_timeout: float = 5.0,
                 api_preference: int = cv2.CAP_ANY) -> None:
        self.source = _check_source(source)
        self.width = _check_size("width", width)
        self.height = _check_size("height", height)
        self.fps = check_fps(fps, allow_none=True) or None  # 0 = let the device choose
        if not (isinstance(backoff_initial, (int, float)) and backoff_initial > 0
                and isinstance(backoff_max, (int, float)) and backoff_max >= backoff_initial):
            raise CameraConfigError("camera backoff needs 0 < backoff_initial <= backoff_max; "
                                    f"got {backoff_initial!r} and {backoff_max!r}")
        if not (isinstance(jitter, (int, float)) and 0 <= jitter < 1):
            raise CameraConfigError(f"camera jitter must be a fraction in [0, 1); got {jitter!r}")
        self.camera_id = camera_id
        self.clock: Clock = clock or SystemClock()
        self.backoff_initial, self.backoff_max, self.jitter = float(backoff_initial), float(backoff_max), jitter
        self.open_timeout, self.read_timeout = open_timeout, read_timeout
        self.api_preference = api_preference
        self._rng = rng or random.Random()
        self._cap: cv2.VideoCapture | None = None
        self._opened = False
        self._attempt = 0  # failures since the last good frame: the backoff exponent
        self._retry_at = 0.0
        self._dropped = False  # a stream that delivered has stopped; the next frame is a reconnect
        self._index = 0
        self._reconnects = 0
        self._last_frame: float | None = None
        self._last_error: str | None = None

    # -- Camera --------------------------------------------------------------------
    def open(self) -> None:
        """Connect once; when the source is not there yet, `read()` keeps retrying."""
        self.close()
        self._opened = True
        self._attempt, self._dropped = 0, False
        if not self._connect():
            self._dropped = True  # so the first frame, when it comes, counts as a reconnect
            self._schedule_retry()
            log.warning("camera %s: %s; retrying in the background", self.camera_id, self._last_error)

    def read(self, timeout: float) -> Frame | None:
        """The next frame, or None when none came within about `timeout` (while reconnecting)."""
        timeout = check_timeout(timeout)
        if not self._opened:
            raise CameraFailed(f"camera {self.camera_id} is not open: call open() before read()")
        deadline = self.clock.monotonic() + timeout
        while True:
            if self._cap is None:
                now = self.clock.monotonic()
                if now < self._retry_at:
                    wait = min(self._retry_at, deadline) - now
                    if wait <= 0:
                        return None
                    self.clock.sleep(wait)
                    continue
                if not self._connect():
                    self._schedule_retry()
                    continue
            image = self._grab()
            if image is not None:
                return self._deliver(image)
            self._drop()
            if self.clock.monotonic() >= deadline:
                return None

    def close(self) -> None:
        """Release the device; safe to call twice."""
        self._release()
        self._opened = False

    def status(self) -> CameraStatus:
        return CameraStatus(camera_id=self.camera_id, backend=self.backend,
                            connected=self._opened and self._cap is not None and not self._dropped,
                            frames=self._index, reconnects=self._reconnects,
                            last_frame_monotonic=self._last_frame, last_error=self._last_error)

    # -- internals -----------------------------------------------------------------
    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0-based), jitter included."""
        base = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt, 62))
        return base * (1.0 - self.jitter * self._rng.random())

    def _connect(self) -> bool:
        self._release()
        try:
            if isinstance(self.source, str) and "://" in self.source:
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout * 1000),
                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout * 1000)]
                cap = cv2.VideoCapture(self.source, self.api_preference, params)
            else:
                cap = cv2.VideoCapture(self.source, self.api_preference)
        except cv2.error as exc:
            self._last_error = f"cannot open {self._describe()}: {exc}"
            return False
        if not cap.isOpened():
            cap.release()
            self._last_error = (f"cannot open {self._describe()}: check the device is plugged in, "
                                "the URL and credentials, or that the file exists")
            return False
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width),
                            (cv2.CAP_PROP_FRAME_HEIGHT, self.height), (cv2.CAP_PROP_FPS, self.fps)):
            if value is not None and not cap.set(prop, value):
                log.debug("camera %s: the source ignored property %s=%s", self.camera_id, prop, value)
        self._cap = cap
        return True

    def _grab(self) -> np.ndarray | None:
        assert self._cap is not None
        try:
            ok, image = self._cap.read()
        except cv2.error as exc:
            self._last_error = f"reading {self._describe()} failed: {exc}"
            return None
        if not ok or image is None or image.size == 0:
            self._last_error = f"{self._describe()} stopped delivering frames"
            return None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        return image

    def _deliver(self, image: np.ndarray) -> Frame:
        now = self.clock.monotonic()
        if self._dropped:
            self._reconnects += 1
            log.info("camera %s: stream back after %d failed attempt(s)", self.camera_id, self._attempt)
        self._dropped, self._attempt = False, 0
        frame = Frame(image=image, index=self._index, monotonic=now, utc=self.clock.utc(),
                      clock_synced=self.clock.synced(), camera_id=self.camera_id)
        self._index += 1
        self._last_frame = now
        return frame

    def _drop(self) -> None:
        if not self._dropped:
            log.warning("camera %s: %s; reconnecting", self.camera_id, self._last_error)
        self._dropped = True
        self._release()
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        delay = self.backoff_delay(self._attempt)
        self._attempt += 1
        self._retry_at = self.clock.monotonic() + delay
        log.debug("camera %s: retry %d in %.2f s (%s)", self.camera_id, self._attempt, delay, self._last_error)

    def _release(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()

    def _describe(self) -> str:
        return f"video device {self.source}" if isinstance(self.source, int) else repr(_redact(self.source))


def _check_source(source: object) -> int | str:
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str) and source.strip().isdigit():
        return int(source)
    if isinstance(source, int) and not isinstance(source, bool) and source >= 0:
        return source
    if isinstance(source, str) and source.strip():
        return source
    raise CameraConfigError("opencv camera source must be a device index (0, 1, ...), a device "
                            f"path, a stream URL (rtsp://...) or a video file; got {source!r}")


def _check_size(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise CameraConfigError(f"camera {name} must be a positive number of pixels or None; got {value!r}")
    return value


def _redact(url: str) -> str:
    """Hide a password in rtsp://user:pass@host/... before it reaches a log or the UI."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    creds, host = rest.split("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
