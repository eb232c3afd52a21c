"""The Camera interface every backend implements, its status, and the camera errors.

The contract, which the capture loop relies on:

- `open()` gets the source ready. It raises `CameraUnavailable` when the source cannot
  be used right now (a missing folder, an unreadable video). A live backend whose
  stream may come back later (OpenCV on RTSP/USB) does not raise for that: it keeps
  retrying inside `read()` and reports the problem in `status()`.
- `read(timeout)` returns the next `Frame`, or `None` when no frame is ready within
  about `timeout` seconds. `None` is never an error: call `read` again. A finite
  source that has played to its end (a replay with `loop=False`) also returns `None`,
  after waiting `timeout` so a naive loop does not spin; `status().ended` tells the two
  apart. `read` raises `CameraFailed` when the source broke in a way only a fresh
  start can mend: `close()`, then `open()` again.
- `close()` releases the device; it is safe to call twice or on a camera never opened.
- `status()` is a snapshot, safe to call from another thread (the health page).

Errors live here rather than in `appliance/errors.py` because `firmware/` imports
nothing of the appliance; each also subclasses the builtin it resembles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from firmware.camera.frame import Frame


class CameraError(Exception):
    """Base of every error a camera raises on purpose; catch this in the capture loop."""


class CameraConfigError(CameraError, ValueError):
    """The camera was asked for something impossible (unknown backend, fps < 0, a bad
    option). Retrying will not help: fix the configuration."""


class CameraUnavailable(CameraError, OSError):
    """The source cannot be opened now (missing folder, unreadable video, no device).
    Retrying later may help, for instance once a USB stick is mounted."""


class CameraFailed(CameraError, RuntimeError):
    """The source broke while running (it raised, or gave a frame that is not an image).
    Close the camera and open it again."""


class BackendMissing(CameraError, ImportError):
    """The library a backend needs is not installed here; the message says what to install."""


@dataclass(frozen=True)
class CameraStatus:
    """What the health page and the watchdog want to know about a camera."""

    camera_id: str
    backend: str
    connected: bool  # opened and delivering (a live stream may be reconnecting)
    frames: int  # frames delivered since construction
    reconnects: int  # times frames resumed after the source failed (dropped, or absent at open)
    last_frame_monotonic: float | None
    last_error: str | None
    ended: bool = False  # a finite source has played out; read() only returns None now


@runtime_checkable
class Camera(Protocol):
    """A source of Frames; see the module docstring for the exact contract."""

    camera_id: str

    def open(self) -> None:
        """Get the source ready (raises CameraUnavailable / CameraConfigError)."""

    def read(self, timeout: float) -> Frame | None:
        """The next frame, or None when none is ready within about `timeout` seconds."""

    def close(self) -> None:
        """Release the source; idempotent."""

    def status(self) -> CameraStatus:
        """A snapshot of the camera's health."""


def check_timeout(timeout: float) -> float:
    """Reject a negative or non-number timeout with a clear message."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
        raise CameraConfigError(f"read timeout must be a number of seconds >= 0; got {timeout!r}")
    return float(timeout)


def check_fps(fps: float | None, *, allow_none: bool) -> float | None:
    """fps must be a number >= 0 (0 = as fast as possible), or None where allowed."""
    if fps is None and allow_none:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps < 0:
        allowed = "a number >= 0 (0 = as fast as possible)" + (" or None" if allow_none else "")
        raise CameraConfigError(f"camera fps must be {allowed}; got {fps!r}")
    return float(fps)
