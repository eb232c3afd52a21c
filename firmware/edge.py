"""The device edge's decisions from frames and inputs: day/night and camera tamper on every
Nth frame (`FrameChecks`), capture bursts from the trigger input (`BurstGate`), and the
status LED's pattern from health, tamper and alerts (`led_pattern`).

Frame checks are sampled, not run on every frame: tamper needs seconds-long evidence
anyway and its cost (~1-3 ms a call on a 1080p frame, measured by `cost_ms`) is better
spent on recognition. Nothing here touches pins directly: outputs are passed in.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware.daynight import DayNight
from firmware.health import Level
from firmware.io.base import LedPattern, TriggerEvent
from firmware.tamper import Assessment, Finding, TamperMonitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckState:
    """The last sampled frame checks, for the health snapshot."""

    night: bool | None
    findings: frozenset[Finding]
    last: Assessment | None
    samples: int
    cost_ms: float  # mean wall time of one sampled check (day/night + tamper)
    has_reference: bool


class FrameChecks:
    """Runs day/night and tamper on every `every`-th frame; `illuminator_on()` says whether the
    IR illuminator is lit (for the IR-failed finding). A frame without a reference view yet is
    taken as the reference once it is a clean daytime frame, and `on_reference` saves it."""

    def __init__(self, daynight: DayNight | None, tamper: TamperMonitor | None, *, every: int = 15,
                 illuminator_on: Callable[[], bool] = lambda: False,
                 on_reference: Callable[[np.ndarray], None] | None = None,
                 timer: Callable[[], float] = time.perf_counter) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"frame checks run every N frames; N must be a whole number >= 1, got {every!r}")
        self.daynight, self.tamper, self.every = daynight, tamper, every
        self.illuminator_on, self.on_reference, self.timer = illuminator_on, on_reference, timer
        self._seen = 0
        self._samples = 0
        self._spent = 0.0
        self._last: Assessment | None = None
        self._lock = threading.Lock()

    def observe(self, image: np.ndarray, monotonic: float) -> bool:
        """Count one frame; run the checks when it is the N-th. True when it was checked."""
        self._seen += 1
        if (self._seen - 1) % self.every:
            return False
        t0 = self.timer()
        night = self.daynight.observe(image, monotonic) if self.daynight is not None else None
        if self.tamper is not None:
            detector = self.tamper.detector
            self.tamper.update(image, night=bool(night), illuminator_on=self.illuminator_on())
            if not detector.has_reference and self._daytime(image, night) and self.tamper.last \
                    and not self.tamper.last.findings:
                detector.set_reference(image)
                log.warning("no tamper reference view: this daytime frame is the reference from now on")
                if self.on_reference is not None:
                    self.on_reference(image)
            self._last = self.tamper.last
        with self._lock:
            self._samples += 1
            self._spent += self.timer() - t0
        return True

    def _daytime(self, image: np.ndarray, night: bool | None) -> bool:
        """Known day, or (before day/night has settled) a frame as bright as day."""
        if night is not None or self.daynight is None:
            return night is False or self.daynight is None
        return DayNight.brightness(image) > self.daynight.day_above

    def state(self) -> CheckState:
        with self._lock:
            cost = 1000.0 * self._spent / self._samples if self._samples else 0.0
            samples = self._samples
        return CheckState(night=self.daynight.night if self.daynight else None,
                          findings=self.tamper.active if self.tamper else frozenset(), last=self._last,
                          samples=samples, cost_ms=cost,
                          has_reference=bool(self.tamper and self.tamper.detector.has_reference))


class BurstGate:
    """Trigger input -> capture burst: after a TriggerEvent the next `burst_frames` frames
    (within `burst_seconds`) are marked wanted. With `gated=True` only wanted frames go on to
    recognition (the loop detector says when a vehicle is there, saving CPU on a Pi); with
    `gated=False` every frame goes on and bursts are only counted."""

    def __init__(self, *, gated: bool = False) -> None:
        self.gated = gated
        self.bursts = 0
        self._left = 0
        self._until = 0.0
        self._lock = threading.Lock()

    def trigger(self, event: TriggerEvent) -> None:
        """The IoBoard's trigger callback."""
        with self._lock:
            self.bursts += 1
            self._left = event.burst_frames
            self._until = event.monotonic + event.burst_seconds
        log.debug("trigger: burst of %d frames for %.1f s", event.burst_frames, event.burst_seconds)

    def admit(self, monotonic: float) -> bool:
        """Whether a frame taken at `monotonic` goes on to recognition."""
        with self._lock:
            in_burst = self._left > 0 and monotonic <= self._until
            if in_burst:
                self._left -= 1
            elif self._left and monotonic > self._until:
                self._left = 0
        return in_burst or not self.gated

    @property
    def in_burst(self) -> bool:
        return self._left > 0


def led_pattern(*, started: bool, health: Level | None, findings: frozenset[Finding] = frozenset(),
                door_open: bool | None = None, alerting: bool = False, camera_stalled: bool = False) -> LedPattern:
    """What the status LED shows, worst first: alert, fault, degraded, running (or starting).

    Fault: a health FAULT or a stalled camera (no reads can happen). Degraded: a health
    DEGRADED or any confirmed camera tamper finding (reads still flow, but worse).
    A door open is an alert until it closes: someone is at the enclosure.
    """
    if alerting or door_open:
        return LedPattern.ALERT
    if not started:
        return LedPattern.STARTING
    if camera_stalled or health is Level.FAULT:
        return LedPattern.FAULT
    if health is Level.DEGRADED or findings:
        return LedPattern.DEGRADED
    return LedPattern.RUNNING
