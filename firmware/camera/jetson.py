"""JetsonCamera: a CSI or RTSP camera on a Jetson.

Two paths, because jetson-utils' own CSI pipeline cannot set exposure:
- fixed exposure on CSI (`speed_limit_mph` or `shutter_us` given): an `nvarguscamerasrc`
  GStreamer pipeline read through OpenCV (JetPack's OpenCV is built with GStreamer; the
  PyPI wheel is not), reusing OpenCVCamera's reconnect logic;
- otherwise (RTSP, V4L2, or CSI with auto exposure): jetson-utils `videoSource`, frames
  copied out with `cudaToNumpy` (zero-copy, so the copy is needed before the buffer is reused).
jetson-utils is imported only here.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import cv2
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
from firmware.camera.exposure import choose_shutter_us
from firmware.camera.frame import Frame
from firmware.camera.opencv import OpenCVCamera
from firmware.camera.reopen import Reopening

log = logging.getLogger(__name__)


def import_jetson_utils() -> Any:
    """jetson_utils (or the older jetson.utils), or BackendMissing naming what to install."""
    for name in ("jetson_utils", "jetson.utils"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BackendMissing(
        "camera backend 'jetson' needs jetson-utils: build it from NVIDIA's jetson-inference on "
        "JetPack, make the venv with --system-site-packages and install the [jetson] extra; "
        "elsewhere use camera.backend 'opencv' or 'replay'")


def argus_pipeline(sensor_id: int, width: int, height: int, fps: float, shutter_us: int,
                   gain: float = 1.0) -> str:
    """An nvarguscamerasrc pipeline with exposure and gain locked, ending in BGR for OpenCV."""
    ns = shutter_us * 1000
    return (f'nvarguscamerasrc sensor-id={sensor_id} exposuretimerange="{ns} {ns}" '
            f'gainrange="{gain:g} {gain:g}" ispdigitalgainrange="1 1" aelock=true ! '
            f"video/x-raw(memory:NVMM),width={width},height={height},framerate={round(fps)}/1 ! "
            "nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! "
            "appsink drop=true max-buffers=1")


class JetsonCamera(Reopening):
    """`source` is a jetson-utils URI: csi://0, rtsp://..., /dev/video0."""

    backend = "jetson"

    def __init__(self, source: str = "csi://0", width: int = 1920, height: int = 1080, fps: float = 30.0,
                 camera_id: str = "cam0", *, speed_limit_mph: float | None = None,
                 shutter_us: int | None = None, gain: float = 1.0, clock: Clock | None = None,
                 reopen_after: float = 5.0) -> None:
        if not isinstance(source, str) or "://" not in source and not source.startswith("/dev/"):
            raise CameraConfigError(f"jetson source must be a URI such as csi://0, rtsp://host/path or "
                                    f"/dev/video0; got {source!r}")
        self.source, self.width, self.height = source, width, height
        self.fps = check_fps(fps, allow_none=False) or 30.0
        self.camera_id = camera_id
        self.clock: Clock = clock or SystemClock()
        self.reopen_after = reopen_after
        self.fixed = source.startswith("csi://") and (speed_limit_mph is not None or shutter_us is not None)
        if not source.startswith("csi://") and (speed_limit_mph is not None or shutter_us is not None):
            raise CameraConfigError("fixed exposure on a Jetson works only for csi:// sources; set the "
                                    "shutter in the IP camera itself for rtsp://")
        self._gst: OpenCVCamera | None = None
        self._utils: Any = None
        if self.fixed:
            self.shutter_us = choose_shutter_us(speed_limit_mph or 35.0, shutter_us)
            self.pipeline = argus_pipeline(int(source[len("csi://"):] or 0), width, height, self.fps,
                                           self.shutter_us, gain)
            self._gst = OpenCVCamera(self.pipeline, camera_id=camera_id, clock=self.clock,
                                     api_preference=cv2.CAP_GSTREAMER)
        else:
            self._utils = import_jetson_utils()
        self._src: Any = None
        self._opened = False
        self._index = self._reconnects = 0
        self._last_frame: float | None = None
        self._last_error: str | None = None
        self._retry_at: float | None = None

    # -- Camera --------------------------------------------------------------------
    def open(self) -> None:
        if self._gst is not None:
            return self._gst.open()
        self.close()
        self._start()
        self._opened = True

    def read(self, timeout: float) -> Frame | None:
        if self._gst is not None:
            return self._gst.read(timeout)
        timeout = check_timeout(timeout)
        if not self._opened:
            raise CameraFailed(f"camera {self.camera_id} is not open: call open() before read()")
        if self._src is None and not self._try_reopen(timeout):
            return None
        try:
            image = self._src.Capture(format="rgb8", timeout=int(timeout * 1000))
        except Exception as exc:  # jetson-utils raises Exception when the stream ends or fails
            self._fail(f"capture failed: {exc}")
            return None
        if image is None:
            return None  # timeout
        return self._deliver(image)

    def close(self) -> None:
        if self._gst is not None:
            return self._gst.close()
        src, self._src = self._src, None
        if src is not None:
            src.Close()
        self._opened = False

    def status(self) -> CameraStatus:
        if self._gst is not None:
            s = self._gst.status()
            return CameraStatus(**{**s.__dict__, "backend": self.backend})
        return CameraStatus(camera_id=self.camera_id, backend=self.backend,
                            connected=self._opened and self._src is not None, frames=self._index,
                            reconnects=self._reconnects, last_frame_monotonic=self._last_frame,
                            last_error=self._last_error)

    # -- internals -----------------------------------------------------------------
    def _start(self) -> None:
        argv = [f"--input-width={self.width}", f"--input-height={self.height}", f"--input-rate={self.fps:g}"]
        try:
            self._src = self._utils.videoSource(self.source, argv=argv)
        except Exception as exc:
            raise CameraUnavailable(f"jetson camera {self.source} would not open: {exc}") from exc

    def _release(self) -> None:
        src, self._src = self._src, None
        if src is not None:
            src.Close()

    def _deliver(self, cuda_image: Any) -> Frame:
        self._utils.cudaDeviceSynchronize()  # the GPU may still be writing the buffer
        rgb = self._utils.cudaToNumpy(cuda_image)
        if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise CameraFailed(f"jetson-utils gave a {getattr(rgb, 'shape', type(rgb))} array; expected HxWx3 rgb8")
        image = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # a copy, so the zero-copy buffer can be reused
        now = self.clock.monotonic()
        ts = getattr(cuda_image, "timestamp", None)
        frame = Frame(image=image, index=self._index, monotonic=ts / 1e9 if isinstance(ts, int) and ts else now,
                      utc=self.clock.utc(), clock_synced=self.clock.synced(), camera_id=self.camera_id)
        self._index += 1
        self._last_frame = now
        return frame
