"""Camera sources behind one small interface, chosen by name in the configuration.

`BACKENDS` maps each name to "module:Class" and `make_camera` imports only the one asked
for (the way gpiozero picks a pin factory), so picamera2 or jetson-utils are needed only
on the device that uses them.
"""

from __future__ import annotations

import importlib
import inspect

from firmware.camera.base import (
    BackendMissing,
    Camera,
    CameraConfigError,
    CameraError,
    CameraFailed,
    CameraStatus,
    CameraUnavailable,
)
from firmware.camera.clock import Clock, ManualClock, SystemClock, clock_synced
from firmware.camera.frame import Frame

BACKENDS: dict[str, str] = {
    "picamera2": "firmware.camera.picamera2:Picamera2Camera",
    "jetson": "firmware.camera.jetson:JetsonCamera",
    "opencv": "firmware.camera.opencv:OpenCVCamera",
    "replay": "firmware.camera.replay:ReplayCamera",
}


def make_camera(backend: str, **options) -> Camera:
    """Build the camera backend named `backend` with `options` (its constructor's keywords)."""
    if backend not in BACKENDS:
        raise CameraConfigError(f"camera backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    module_name, class_name = BACKENDS[backend].split(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        accepted = ", ".join(p for p in inspect.signature(cls).parameters)
        raise CameraConfigError(f"camera backend {backend!r}: {exc}; it accepts {accepted}") from None
    return cls(**options)


__all__ = [
    "BACKENDS", "BackendMissing", "Camera", "CameraConfigError", "CameraError", "CameraFailed",
    "CameraStatus", "CameraUnavailable", "Clock", "Frame", "ManualClock", "SystemClock",
    "clock_synced", "make_camera",
]
