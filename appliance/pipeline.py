"""The device loop: capture -> bounded queue -> recognition workers -> tracker -> store writer.

Threads are named and stop on one event. The capture queue drops the oldest frame when
recognition falls behind (a late frame is worth less than a fresh one) and counts it.
Workers may finish out of order, so results pass through a reorder buffer before the
tracker, which needs frames in time order. All store writes go through one writer
thread. `stop()` ends capture, lets the workers finish the frame in hand, flushes the
tracker's open tracks and writes every completed read before returning.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from appliance.types import Frame, Plate, Read

log = logging.getLogger(__name__)
_DONE = object()


class DropOldestQueue:
    """A bounded FIFO whose put never blocks: when full, the oldest item is dropped."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque = deque()
        self._maxsize = maxsize
        self._cond = threading.Condition()
        self.dropped = 0
        self._seq = 0

    def put(self, item) -> None:
        with self._cond:
            if len(self._items) >= self._maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> tuple[int, object] | None:
        """The oldest item with a dense sequence number (for reordering), or None on timeout."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            seq, self._seq = self._seq, self._seq + 1
            return seq, self._items.popleft()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


@dataclass
class Health:
    """Counters the web UI and (later) the watchdog read; updated by the pipeline threads."""

    captured: int = 0
    processed: int = 0
    reads: int = 0
    camera_errors: int = 0
    started_monotonic: float = field(default_factory=time.monotonic)
    last_read_utc: datetime | None = None
    last_frame_monotonic: float | None = None
    _recent: deque = field(default_factory=lambda: deque(maxlen=60))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def frame_processed(self) -> None:
        with self._lock:
            self.processed += 1
            self._recent.append(time.monotonic())

    def fps(self) -> float:
        with self._lock:
            if len(self._recent) < 2:
                return 0.0
            span = self._recent[-1] - self._recent[0]
            return (len(self._recent) - 1) / span if span > 0 else 0.0

    def snapshot(self, frames: DropOldestQueue) -> dict:
        """Plain values for the health page and the heartbeat."""
        last = self.last_read_utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if self.last_read_utc else None
        return {"frames_captured": self.captured, "frames_processed": self.processed,
                "frames_dropped": frames.dropped, "fps": round(self.fps(), 1), "queue_depth": len(frames),
                "reads": self.reads, "camera_errors": self.camera_errors, "last_read_utc": last,
                "uptime_s": round(time.monotonic() - self.started_monotonic, 1)}


class Pipeline:
    """Runs one camera through recognition, tracking and storage on named threads."""

    def __init__(self, camera, recognizers: list, tracker, write_read: Callable[[Read], None],
                 queue_size: int = 4, reopen_backoff_s: float = 1.0,
                 housekeeping: Callable[[], None] | None = None, housekeeping_interval_s: float = 300.0) -> None:
        self.camera = camera
        self.recognizers = recognizers  # one Recognizer per worker: sessions are not shared
        self.tracker = tracker
        self.write_read = write_read
        self.frames = DropOldestQueue(queue_size)
        self.health = Health()
        self.stop_event = threading.Event()
        self.reopen_backoff_s = reopen_backoff_s
        self.housekeeping = housekeeping  # store purge/capacity work: runs on the writer thread
        self.housekeeping_interval_s = housekeeping_interval_s
        self._results: queue.Queue = queue.Queue()
        self._writes: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        self.start_writer()
        self.start_tracker()
        self.start_workers()
        self.start_capture()

    def start_capture(self) -> None:
        self._spawn("capture", self._capture_loop)

    def start_workers(self) -> None:
        for i, rec in enumerate(self.recognizers):
            self._workers.append(self._spawn(f"recognize-{i}", self._worker_loop, rec))

    def start_tracker(self) -> None:
        self._tracker_thread = self._spawn("tracker", self._tracker_loop)

    def start_writer(self) -> None:
        self._writer_thread = self._spawn("store-writer", self._writer_loop)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop capture and workers, flush tracks, write everything; True if all ended in time."""
        deadline = time.monotonic() + timeout
        self.stop_event.set()
        for t in self._threads:
            if t.name == "capture" or t in self._workers:
                t.join(max(0.0, deadline - time.monotonic()))
        self._results.put(_DONE)
        self._tracker_thread.join(max(0.0, deadline - time.monotonic()))
        self._writes.put(_DONE)
        self._writer_thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning("threads still running after stop: %s", ", ".join(alive))
        return not alive

    def _spawn(self, name: str, target: Callable, *args) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(t)
        t.start()
        return t

    # -- threads -------------------------------------------------------------------
    def _capture_loop(self) -> None:
        opened = False
        while not self.stop_event.is_set():
            try:
                if not opened:
                    self.camera.open()
                    opened = True
                frame = self.camera.read(timeout=0.5)
            except Exception as exc:  # a camera that dies is reopened; the loop lives on
                self.health.camera_errors += 1
                log.warning("camera failed (%s); reopening in %.1f s", exc, self.reopen_backoff_s)
                self._close_camera()
                opened = False
                self.stop_event.wait(self.reopen_backoff_s)
                continue
            if frame is None:
                continue
            self.health.captured += 1
            self.health.last_frame_monotonic = frame.monotonic
            self.frames.put(frame)
        self._close_camera()

    def _close_camera(self) -> None:
        try:
            self.camera.close()
        except Exception as exc:
            log.debug("camera close failed: %s", exc)

    def _worker_loop(self, recognizer) -> None:
        while not self.stop_event.is_set():
            item = self.frames.get(timeout=0.2)
            if item is None:
                continue
            seq, frame = item
            try:
                plates = recognizer.read_frame(frame.image)
            except Exception:
                log.exception("recognition failed on frame %s; skipped", frame.index)
                plates = []
            self.health.frame_processed()
            self._results.put((seq, frame, plates))

    def _tracker_loop(self) -> None:
        pending: list[tuple[int, int, Frame, list[Plate]]] = []
        expected = 0
        while True:
            try:
                item = self._results.get(timeout=0.5)
            except queue.Empty:
                item = None
            if item is _DONE:
                for _, _, frame, plates in sorted(pending, key=lambda p: p[0]):
                    self._emit(self.tracker.update(frame, plates))
                self._emit(self.tracker.flush())
                return
            if item is not None:
                seq, frame, plates = item
                heapq.heappush(pending, (seq, id(frame), frame, plates))
            while pending and pending[0][0] == expected:
                _, _, frame, plates = heapq.heappop(pending)
                self._emit(self.tracker.update(frame, plates))
                expected += 1
            if item is None and not pending and len(self.frames) == 0:
                # Nothing in flight: time passes for the tracker even without frames. (With
                # frames queued, their own timestamps move it; ticking on the wall clock
                # then would end tracks that are merely waiting for recognition.)
                self._emit(self.tracker.tick(time.monotonic()))

    def _emit(self, reads: list[Read]) -> None:
        for r in reads:
            self._writes.put(r)

    def workers_alive(self) -> dict[str, Callable[[], bool]]:
        """Liveness of every thread, for the systemd watchdog."""
        return {t.name: t.is_alive for t in self._threads}

    def _writer_loop(self) -> None:
        next_housekeeping = time.monotonic() + 5.0
        while True:
            try:
                read = self._writes.get(timeout=1.0)
            except queue.Empty:
                read = None
            if self.housekeeping and time.monotonic() >= next_housekeeping:
                next_housekeeping = time.monotonic() + self.housekeeping_interval_s
                try:  # on this thread: the store has one writer
                    self.housekeeping()
                except Exception:
                    log.exception("store housekeeping failed; retried in %.0f s", self.housekeeping_interval_s)
            if read is None:
                continue
            if read is _DONE:
                return
            try:
                self.write_read(read)
            except Exception:
                log.exception("could not store read %s", read.id)
                continue
            self.health.reads += 1
            self.health.last_read_utc = datetime.now(timezone.utc)
