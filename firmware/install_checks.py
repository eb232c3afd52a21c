"""Checks an installer runs at the pole: enough pixels across the plate, a shutter fast
enough for the speed limit, and an IR switch that changes the picture.

Provisioning (appliance/provision/steps.py) runs the shutter check, the measured-pixels
check and, when the answers ask for it (it needs the dark), the IR switch check; the
computed-pixels estimate runs in tests only, and the IR switch also on the hardware rig
(hw-tests/test_rig_edge.py).

Each returns a `CheckResult`: pass/fail, the measured value, the limit, a message that says
what to change, and sample crops saved to a folder so the installer can see what was
measured. Cameras, pins and the plate finder are passed in as callables, so the same
checks run on a real camera, on replayed frames and in tests.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from firmware.camera.exposure import max_shutter_us

log = logging.getLogger(__name__)

US_PLATE_WIDTH_MM = 305.0  # 12 in
MIN_PLATE_PX = 75.0  # OpenALPR's guide for US plates
MIN_IR_DELTA = 15.0  # grey levels the scene must brighten with the IR illuminator on

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the frame
FindPlates = Callable[[np.ndarray], Sequence[Box]]


@dataclass(frozen=True)
class CheckResult:
    """One install check: `passed`, `measured` against `limit` (in `unit`), and why."""

    name: str
    passed: bool
    measured: float | None
    limit: float
    unit: str
    message: str
    crops: tuple[Path, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "measured": self.measured, "limit": self.limit,
                "unit": self.unit, "message": self.message, "crops": [str(p) for p in self.crops]}


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a number greater than 0; got {value!r}")
    return float(value)


def _save(folder: Path | None, name: str, image: np.ndarray) -> Path | None:
    if folder is None or image.size == 0:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not cv2.imwrite(str(path), image):
        log.warning("could not write sample crop %s", path)
        return None
    return path


def plate_pixels_measured(frames: Iterable[np.ndarray], find_plates: FindPlates, *,
                          min_px: float = MIN_PLATE_PX, crops_dir: Path | None = None) -> CheckResult:
    """Plate width in pixels from a test read: the median, over frames with a plate, of the widest plate."""
    name, widths, crops = "pixels across the plate (measured)", [], []
    for i, image in enumerate(frames):
        boxes = [b for b in find_plates(image) if b[2] > 0 and b[3] > 0]
        if not boxes:
            continue
        x, y, w, h = max(boxes, key=lambda b: b[2])
        widths.append(float(w))
        crop = _save(crops_dir, f"plate-{i:03d}-{w}px.png", image[max(0, y):y + h, max(0, x):x + w])
        if crop is not None:
            crops.append(crop)
    if not widths:
        return CheckResult(name, False, None, min_px, "px", "no plate found in the test frames: put a plate (or the "
                           "printed target) where vehicles pass, check focus and exposure, and run again",
                           tuple(crops))
    width = statistics.median(widths)
    ok = width >= min_px
    message = (f"plates are {width:.0f} px wide over {len(widths)} frame(s)" + ("" if ok else
               f": below {min_px:.0f} px; zoom in (longer focal length), move the camera closer or raise the "
               "resolution"))
    return CheckResult(name, ok, width, min_px, "px", message, tuple(crops))


def plate_pixels_computed(*, sensor_width_mm: float, focal_length_mm: float, distance_m: float,
                          image_width_px: int, plate_width_mm: float = US_PLATE_WIDTH_MM,
                          min_px: float = MIN_PLATE_PX) -> CheckResult:
    """Plate width in pixels from the optics: plate x focal length / distance, in sensor pixels."""
    sensor, focal = _positive("sensor_width_mm", sensor_width_mm), _positive("focal_length_mm", focal_length_mm)
    distance, plate = _positive("distance_m", distance_m), _positive("plate_width_mm", plate_width_mm)
    pixels = _positive("image_width_px", image_width_px)
    width = plate * focal / (distance * 1000.0) * pixels / sensor
    ok = width >= min_px
    needed_focal = focal * min_px / width
    message = (f"a {plate:.0f} mm plate at {distance:g} m with a {focal:g} mm lens on a {sensor:g} mm wide sensor "
               f"({pixels:.0f} px) is {width:.0f} px wide" + ("" if ok else
               f": below {min_px:.0f} px; a {needed_focal:.1f} mm lens (or {distance * width / min_px:.1f} m) "
               "would do"))
    return CheckResult("pixels across the plate (computed)", ok, round(width, 1), min_px, "px", message)


def shutter_vs_speed(shutter_us: float, speed_limit_mph: float) -> CheckResult:
    """The shutter must be no slower than 1/(18 x mph) s to freeze traffic at the speed limit."""
    shutter = _positive("shutter_us", shutter_us)
    limit = float(max_shutter_us(speed_limit_mph))
    ok = shutter <= limit
    message = (f"shutter 1/{1e6 / shutter:.0f} s ({shutter:.0f} us) against the {speed_limit_mph:g} mph limit's "
               f"1/{1e6 / limit:.0f} s ({limit:.0f} us)" + ("" if ok else
               ": too slow, plates will smear; shorten the shutter and raise gain or IR power instead"))
    return CheckResult("shutter vs speed limit", ok, shutter, limit, "us", message)


def ir_switch_works(set_ir: Callable[[bool], None], grab: Callable[[], np.ndarray], *,
                    min_delta: float = MIN_IR_DELTA, settle_frames: int = 3,
                    region: Box | None = None, crops_dir: Path | None = None) -> CheckResult:
    """Switch night mode (illuminator on, IR-cut out) off, then on, and see the picture brighten.

    `set_ir(True)` is night mode; `grab()` returns the next frame. The first `settle_frames`
    after each switch are skipped (the filter moves, the sensor's exposure settles). Run it at
    night or with the lens shaded: by day the sun swamps the illuminator. `region` (x, y, w, h)
    measures only where the plate is: retro-reflective plates brighten most.
    """
    if isinstance(settle_frames, bool) or not isinstance(settle_frames, int) or settle_frames < 0:
        raise ValueError(f"settle_frames must be a whole number >= 0; got {settle_frames!r}")

    def level(night: bool) -> tuple[float, np.ndarray]:
        set_ir(night)
        for _ in range(settle_frames):
            grab()
        image = grab()
        if region is not None:
            x, y, w, h = region
            image = image[y:y + h, x:x + w]
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return float(grey.mean()), image

    try:
        off, off_img = level(False)
        on, on_img = level(True)
    finally:
        set_ir(False)
    delta = on - off
    crops = tuple(p for p in (_save(crops_dir, "ir-off.png", off_img), _save(crops_dir, "ir-on.png", on_img)) if p)
    ok = delta >= min_delta
    message = (f"brightness {off:.0f} with IR off, {on:.0f} with IR on" + ("" if ok else
               f": a change under {min_delta:.0f} levels; check the illuminator's power and wiring, that the IR-cut "
               "filter moves (listen for the click), and run the check at night or with the lens shaded"))
    return CheckResult("IR switch", ok, round(delta, 1), min_delta, "grey levels", message, crops)
