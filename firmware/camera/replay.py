"""ReplayCamera: plays a folder of images, a video file, or generated frames as a camera.

The demo plays a generated drive-by through it, the tests play files they wrote, and a
benchmark plays anything at `fps=0` (as fast as the consumer asks). Frames are stamped
when they are handed out, with the injected clock, exactly as a live camera's would be.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from firmware.camera.base import (
    CameraConfigError,
    CameraError,
    CameraFailed,
    CameraStatus,
    CameraUnavailable,
    check_fps,
    check_timeout,
)
from firmware.camera.clock import Clock, SystemClock
from firmware.camera.frame import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")

ReplaySource = str | os.PathLike | Iterable[np.ndarray] | Callable[[], Iterable[np.ndarray]]


class ReplayCamera:
    """A camera that replays `source`, paced to `fps` (0 = no pacing), once or in a loop.

    `source` is a folder of images (played in file-name order: zero-pad the numbers), a
    video file OpenCV can decode, an iterable of BGR uint8 arrays, or a callable that
    returns a fresh iterable for each pass (e.g. `driveby.frames`). Arrays from an
    iterable are handed out as they are, not copied. Frame indexes keep counting across
    loops and reopenings, so they stay unique for this camera.
    """

    backend = "replay"

    def __init__(self, source: ReplaySource, fps: float = 10.0, loop: bool = True,
                 camera_id: str = "replay0", clock: Clock | None = None) -> None:
        self.fps = check_fps(fps, allow_none=False)
        if not isinstance(loop, bool):
            raise CameraConfigError(f"replay loop must be true or false; got {loop!r}")
        is_path = isinstance(source, (str, os.PathLike))
        if not is_path and not callable(source) and not isinstance(source, Iterable):
            raise CameraConfigError(
                "replay source must be a folder of images, a video file, an iterable of BGR "
                f"frames or a callable returning one; got {type(source).__name__}")
        if loop and not is_path and not callable(source) and iter(source) is source:
            raise CameraConfigError(
                "replay loop=True needs a source it can start again: pass a list, or a callable "
                "that returns a new iterator (e.g. driveby.frames), not a generator object")
        self.source = source
        self.loop = loop
        self.camera_id = camera_id
        self.clock: Clock = clock or SystemClock()
        self.passes = 0  # how many times the source was started (loops + reopenings)
        self.skipped = 0  # unreadable files skipped in a folder
        self._frames: Iterator[np.ndarray] | None = None
        self._pending: np.ndarray | None = None
        self._pass_frames = 0
        self._next_due: float | None = None
        self._index = 0
        self._opened = False
        self._ended = False
        self._last_frame: float | None = None
        self._last_error: str | None = None

    # -- Camera --------------------------------------------------------------------
    def open(self) -> None:
        """Start the source from its beginning (raises CameraUnavailable for a bad path)."""
        self.close()
        try:
            self._frames = self._start_pass()
        except CameraError as exc:
            self._last_error = str(exc)
            raise
        self._opened, self._ended = True, False
        self._next_due = None
        log.info("replay camera %s opened: %s at %s fps%s", self.camera_id, self._describe(),
                 self.fps or "unpaced", ", looping" if self.loop else "")

    def read(self, timeout: float) -> Frame | None:
        """The next frame when it is due; None when not due within `timeout`, or played out."""
        timeout = check_timeout(timeout)
        if not self._opened:
            raise CameraFailed(f"replay camera {self.camera_id} is not open: call open() before read()")
        if self._ended:
            self.clock.sleep(timeout)  # so a loop that ignores status().ended does not spin
            return None
        if self._pending is None:
            try:
                self._pending = self._next_image()
            except CameraError as exc:
                self._last_error = str(exc)
                raise
            if self._pending is None:
                self._ended = True
                log.info("replay camera %s reached the end of %s", self.camera_id, self._describe())
                self.clock.sleep(timeout)
                return None
        if self.fps > 0:
            now = self.clock.monotonic()
            due = now if self._next_due is None else self._next_due
            wait = due - now
            if wait > timeout:
                self.clock.sleep(timeout)
                return None
            if wait > 0:
                self.clock.sleep(wait)
            self._next_due = due
        return self._deliver()

    def close(self) -> None:
        """Stop playing and release any open video; safe to call twice."""
        frames, self._frames = self._frames, None
        if frames is not None and hasattr(frames, "close"):
            frames.close()  # a generator's `finally` releases its VideoCapture
        self._pending = None
        self._opened = False

    def status(self) -> CameraStatus:
        return CameraStatus(camera_id=self.camera_id, backend=self.backend,
                            connected=self._opened and not self._ended, frames=self._index,
                            reconnects=0, last_frame_monotonic=self._last_frame,
                            last_error=self._last_error, ended=self._ended)

    @property
    def ended(self) -> bool:
        """True once a non-looping replay has handed out its last frame."""
        return self._ended

    # -- internals -----------------------------------------------------------------
    def _deliver(self) -> Frame:
        now = self.clock.monotonic()
        frame = Frame(image=self._pending, index=self._index, monotonic=now, utc=self.clock.utc(),
                      clock_synced=self.clock.synced(), camera_id=self.camera_id)
        self._pending = None
        self._index += 1
        self._last_frame = now
        if self.fps > 0:
            period = 1.0 / self.fps
            # Keep to the schedule (no drift from sleep overshoot), but when the consumer
            # fell a whole frame behind, start afresh rather than burst to catch up.
            nxt = self._next_due + period
            self._next_due = nxt if nxt > now else now + period
        return frame

    def _next_image(self) -> np.ndarray | None:
        """The next image of the current pass, starting another pass when looping."""
        assert self._frames is not None
        while True:
            try:
                item = next(self._frames)
            except StopIteration:
                if self._pass_frames == 0:
                    raise CameraUnavailable(
                        f"replay source {self._describe()} gave no frames: check that it holds "
                        "readable images or video frames") from None
                if not self.loop:
                    return None
                self._frames = self._start_pass()
                continue
            except CameraError:
                raise
            except Exception as exc:
                raise CameraFailed(
                    f"replay source {self._describe()} raised {type(exc).__name__}: {exc}; "
                    "close() and open() the camera to start it again") from exc
            self._pass_frames += 1
            return _as_bgr(item, self._index, self._describe())

    def _start_pass(self) -> Iterator[np.ndarray]:
        self.passes += 1
        self._pass_frames = 0
        if isinstance(self.source, (str, os.PathLike)):
            path = Path(self.source)
            if path.is_dir():
                return self._folder_frames(path, _list_images(path))
            if path.is_file():
                return _video_frames(path, _open_video(path))
            raise CameraUnavailable(
                f"replay source {path} does not exist: give a folder of images or a video file")
        try:
            frames = self.source() if callable(self.source) else self.source
            return iter(frames)
        except Exception as exc:
            raise CameraFailed(f"replay source {self._describe()} could not start: "
                               f"{type(exc).__name__}: {exc}") from exc

    def _folder_frames(self, folder: Path, files: list[Path]) -> Iterator[np.ndarray]:
        for path in files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                self.skipped += 1
                log.warning("replay camera %s skipped %s: not an image OpenCV can read",
                            self.camera_id, path)
                continue
            yield image

    def _describe(self) -> str:
        if isinstance(self.source, (str, os.PathLike)):
            return str(self.source)
        if callable(self.source):
            return getattr(self.source, "__qualname__", type(self.source).__name__) + "()"
        return f"<{type(self.source).__name__}>"


def _list_images(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CameraUnavailable(
            f"replay folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)}): put frames "
            "there, or point the camera source at another folder or a video file")
    return files


def _open_video(path: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise CameraUnavailable(
            f"cannot open {path} as a video: OpenCV cannot decode it (an MJPG .avi or an H.264 "
            ".mp4 works), or give a folder of images instead")
    return capture


def _video_frames(path: Path, capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, image = capture.read()
            if not ok or image is None:
                return
            yield image
    finally:
        capture.release()


def _as_bgr(item: object, index: int, source: str) -> np.ndarray:
    """Accept BGR, BGRA or grayscale uint8 arrays; anything else is a broken source."""
    if isinstance(item, np.ndarray) and item.dtype == np.uint8 and item.size:
        if item.ndim == 3 and item.shape[2] == 3:
            return item
        if item.ndim == 2:
            return cv2.cvtColor(item, cv2.COLOR_GRAY2BGR)
        if item.ndim == 3 and item.shape[2] == 4:
            return cv2.cvtColor(item, cv2.COLOR_BGRA2BGR)
    what = (f"an array of shape {item.shape} and dtype {item.dtype}" if isinstance(item, np.ndarray)
            else f"a {type(item).__name__}")
    raise CameraFailed(f"replay source {source} gave {what} as frame {index}; frames must be "
                       "uint8 numpy arrays shaped (height, width, 3) in BGR order")
