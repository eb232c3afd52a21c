"""Camera tamper and degradation, judged from the frames themselves.

A camera on a pole gets covered, sprayed, knocked out of focus or turned away, and its IR
illuminator dies; the pipeline keeps delivering frames, so none of that stops the
watchdog. `TamperDetector.assess()` compares a frame with a reference view taken at
install (`set_reference`) and returns what looks wrong; `TamperMonitor` reports a finding
only after it has held for several frames, because a lorry filling the view for a second
is not tamper. Everything runs on a small grey copy of the frame (~1 ms on a Pi 4).
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np

_WORK_WIDTH = 320


class Finding(enum.Enum):
    COVERED = "lens covered or blocked"
    OUT_OF_FOCUS = "out of focus or lens sprayed"
    TURNED_AWAY = "camera turned away from its reference view"
    IR_FAILED = "IR illuminator on but the night frame is dark"


@dataclass(frozen=True)
class Thresholds:
    """Limits on the grey, 320-px-wide copy (0-255 levels); tune per site at install."""

    covered_std: float = 6.0  # by day, below this: a flat image (hand, tape, paint)
    night_covered_std: float = 1.5  # at night a dark scene is low-contrast anyway: only flat black
    day_dark_mean: float = 20.0  # by day, a mean below this is a blocked lens
    focus_ratio: float = 0.35  # Laplacian variance below this share of the reference's
    max_shift: float = 0.08  # phase-correlation shift, as a share of the width
    min_match: float = 0.05  # phase-correlation peak below this: a different scene
    ir_dark_mean: float = 12.0  # at night with the illuminator on, a mean below this


@dataclass(frozen=True)
class Assessment:
    """One frame's measurements and findings."""

    mean: float
    std: float
    sharpness: float  # variance of the Laplacian
    shift_px: float | None  # vs the reference, in work pixels; None without a reference
    match: float | None  # phase-correlation peak response
    findings: frozenset[Finding] = field(default_factory=frozenset)

    @property
    def ok(self) -> bool:
        return not self.findings


def _grey(image: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    if g.shape[1] > _WORK_WIDTH:
        h = max(1, round(g.shape[0] * _WORK_WIDTH / g.shape[1]))
        g = cv2.resize(g, (_WORK_WIDTH, h), interpolation=cv2.INTER_AREA)
    return g


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: falls when the image blurs."""
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


class TamperDetector:
    """Judges frames against a reference view; without one only the covered/IR checks run."""

    def __init__(self, thresholds: Thresholds | None = None, reference: np.ndarray | None = None) -> None:
        self.t = thresholds or Thresholds()
        self._ref: np.ndarray | None = None
        self._ref_sharpness = 0.0
        self._window: np.ndarray | None = None
        if reference is not None:
            self.set_reference(reference)

    @property
    def has_reference(self) -> bool:
        return self._ref is not None

    def set_reference(self, image: np.ndarray) -> None:
        """Take `image` (a good daytime frame at install) as the view to hold."""
        g = _grey(image)
        self._ref = g.astype(np.float32)
        self._ref_sharpness = sharpness(g)
        self._window = cv2.createHanningWindow((g.shape[1], g.shape[0]), cv2.CV_32F)

    def assess(self, image: np.ndarray, *, night: bool = False, illuminator_on: bool = False) -> Assessment:
        """Measure `image` and list what is wrong with it."""
        g = _grey(image)
        mean, std = (float(v[0][0]) for v in cv2.meanStdDev(g))
        sharp = sharpness(g)
        found: set[Finding] = set()
        if night:
            covered = std < self.t.night_covered_std
        else:
            covered = std < self.t.covered_std or mean < self.t.day_dark_mean
        if covered:
            found.add(Finding.COVERED)
        if night and illuminator_on and mean < self.t.ir_dark_mean:
            found.add(Finding.IR_FAILED)
        shift = match = None
        if self._ref is not None and g.shape == self._ref.shape and not covered and not night:
            # By day only: at night the IR scene differs from the daytime reference.
            if sharp < self.t.focus_ratio * self._ref_sharpness:
                found.add(Finding.OUT_OF_FOCUS)
            (dx, dy), match = cv2.phaseCorrelate(self._ref, g.astype(np.float32), self._window)
            shift = float(np.hypot(dx, dy))
            if shift > self.t.max_shift * g.shape[1] or match < self.t.min_match:
                found.add(Finding.TURNED_AWAY)
        return Assessment(mean, std, sharp, shift, match, frozenset(found))


class TamperMonitor:
    """Confirms findings that hold for `confirm` consecutive assessed frames."""

    def __init__(self, detector: TamperDetector, confirm: int = 5) -> None:
        if confirm < 1:
            raise ValueError(f"tamper confirm must be at least 1 frame; got {confirm!r}")
        self.detector, self.confirm = detector, confirm
        self._streak: Counter[Finding] = Counter()
        self.active: frozenset[Finding] = frozenset()
        self.last: Assessment | None = None  # the latest frame's measurements (health page)

    def update(self, image: np.ndarray, **conditions: bool) -> frozenset[Finding]:
        """Assess one frame; the confirmed findings now (a clean frame clears a streak)."""
        self.last = self.detector.assess(image, **conditions)
        found = self.last.findings
        for f in Finding:
            self._streak[f] = self._streak[f] + 1 if f in found else 0
        self.active = frozenset(f for f in Finding if self._streak[f] >= self.confirm)
        return self.active
