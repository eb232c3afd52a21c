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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware.periodic import Periodic

log = logging.getLogger(__name__)
from appliance.atomic_file import replace_file


def write_mark(path: Path, version: str, at: float | None = None) -> None:
    """Replace the mark atomically (a reader never sees half a file)."""
    replace_file(path, json.dumps({"version": version, "pid": os.getpid(), "at": time.time() if at is None else at}))


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
        self._worker = Periodic("health-mark", self.tick, interval)  # a check at once, then every interval

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
        """Run `tick()` now and every `interval` seconds on the "health-mark" thread (once: a second start raises)."""
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop(timeout=2)
