"""Camera tamper detection on frames made covered, dark, blurred and shifted."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from firmware.tamper import Finding, TamperDetector, TamperMonitor


def scene(seed: int = 3, h: int = 360, w: int = 640, spacing: int = 45, text=(200, 200)) -> np.ndarray:
    """A textured street-like scene: rectangles, lines and text on a mid-grey ground."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 110, np.uint8)
    for _ in range(40):
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 40))
        cv2.rectangle(img, (x, y), (x + int(rng.integers(10, 80)), y + int(rng.integers(10, 60))),
                      tuple(int(c) for c in rng.integers(0, 255, 3)), -1)
    for i in range(0, w, spacing):
        cv2.line(img, (i, 0), (w - i, h), (230, 230, 230), 2)
    cv2.putText(img, "ABC1234", text, cv2.FONT_HERSHEY_SIMPLEX, 2, (20, 20, 20), 4)
    return img


@pytest.fixture
def detector() -> TamperDetector:
    return TamperDetector(reference=scene())


def shifted(img: np.ndarray, dx: int, dy: int = 0) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def test_reference_view_is_fine(detector):
    a = detector.assess(scene())
    assert a.ok, a
    assert a.shift_px < 1 and a.match > 0.5
    noisy = np.clip(scene().astype(int) + np.random.default_rng(1).integers(-8, 8, scene().shape), 0, 255)
    assert detector.assess(noisy.astype(np.uint8)).ok  # sensor noise is not tamper
    assert detector.assess(shifted(scene(), 6)).ok  # a pole swaying a few pixels is not tamper


def test_covered_lens(detector):
    hand = np.full((360, 640, 3), 60, np.uint8)
    assert detector.assess(hand).findings == {Finding.COVERED}
    capped = np.full((360, 640, 3), 2, np.uint8)  # a lens cap at night: flat black
    assert Finding.COVERED in detector.assess(capped, night=True).findings
    dark = (scene() * 0.08).astype(np.uint8)  # taped over by day: very dark
    assert Finding.COVERED in detector.assess(dark).findings
    assert Finding.COVERED not in detector.assess(dark, night=True).findings  # dark at night is normal


def test_out_of_focus_and_sprayed(detector):
    blurred = cv2.GaussianBlur(scene(), (0, 0), 4)
    assert Finding.OUT_OF_FOCUS in detector.assess(blurred).findings
    sprayed = cv2.addWeighted(cv2.GaussianBlur(scene(), (0, 0), 3), 0.5, np.full_like(scene(), 200), 0.5, 0)
    assert Finding.OUT_OF_FOCUS in detector.assess(sprayed).findings
    assert Finding.OUT_OF_FOCUS not in detector.assess(cv2.GaussianBlur(scene(), (3, 3), 0.6)).findings


def test_turned_away(detector):
    a = detector.assess(shifted(scene(), 90, 20))
    assert Finding.TURNED_AWAY in a.findings and a.shift_px > 25
    other = detector.assess(scene(seed=99, spacing=70, text=(40, 320)))  # pointed at a different street entirely
    assert Finding.TURNED_AWAY in other.findings


def test_ir_illuminator_failure_at_night(detector):
    night_lit = (scene() * 0.35).astype(np.uint8)
    assert detector.assess(night_lit, night=True, illuminator_on=True).ok
    black = (scene() * 0.03).astype(np.uint8)
    assert Finding.IR_FAILED in detector.assess(black, night=True, illuminator_on=True).findings
    assert Finding.IR_FAILED not in detector.assess(black, night=True, illuminator_on=False).findings


def test_without_reference_only_covered_and_ir_checks():
    d = TamperDetector()
    assert d.assess(cv2.GaussianBlur(scene(), (0, 0), 5)).ok
    assert d.assess(np.zeros((100, 100, 3), np.uint8)).findings == {Finding.COVERED}


def test_monitor_needs_a_streak(detector):
    mon = TamperMonitor(detector, confirm=3)
    hand = np.full((360, 640, 3), 60, np.uint8)
    assert mon.update(hand) == frozenset() and mon.update(hand) == frozenset()
    assert mon.update(scene()) == frozenset()  # a passing lorry: streak broken
    for _ in range(2):
        mon.update(hand)
    assert mon.update(hand) == {Finding.COVERED}
    assert mon.update(scene()) == frozenset()
    with pytest.raises(ValueError, match="at least 1 frame"):
        TamperMonitor(detector, confirm=0)
