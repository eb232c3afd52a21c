"""The health mark: a small JSON file the device process rewrites while frames flow.

`alpr update` switches releases and then waits for this file to name the new version with
a time after the switch; a release that crashes, hangs or never gets a frame through never
writes it, and is rolled back. The same check the systemd watchdog uses decides "healthy",
so the two can never disagree.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_mark(path: Path, version: str, at: float | None = None) -> None:
    """Replace the mark atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps({"version": version, "pid": os.getpid(), "at": time.time() if at is None else at}))
    os.replace(tmp, path)


def read_mark(path: Path) -> dict[str, Any] | None:
    """The mark, or None when absent or unreadable (a release mid-write counts as not yet)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class HealthMarker:
    """Rewrites the mark every `interval` seconds while `problem()` returns None."""

    def __init__(self, path: Path, version: str, problem: Callable[[], str | None], interval: float = 5.0) -> None:
        self.path, self.version, self.problem, self.interval = path, version, problem, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> bool:
        """Write the mark if healthy now; returns whether it did."""
        if self.problem() is not None:
            return False
        try:
            write_mark(self.path, self.version)
        except OSError as e:  # a read-only /run must not take the device down
            log.warning("cannot write the health mark %s: %s", self.path, e)
            return False
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health-mark", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failed check is "not healthy", never a dead thread
                log.exception("health mark check failed")
            if self._stop.wait(self.interval):
                return
