"""Install checks: plate pixels (measured from frames and computed from optics), shutter vs
speed limit, and the IR switch seen in the frames, with sample crops written to a folder."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from firmware.camera.clock import ManualClock
from firmware.install_checks import (
    ir_switch_works,
    plate_pixels_computed,
    plate_pixels_measured,
    shutter_vs_speed,
)
from firmware.io import IoPins, make_io


def scene(plate_width: int, brightness: int = 120) -> np.ndarray:
    """A grey road with one white plate of `plate_width` px (2:1) with dark characters."""
    img = np.full((480, 640, 3), brightness // 2, np.uint8)
    x, y, h = 200, 300, plate_width // 2
    cv2.rectangle(img, (x, y), (x + plate_width, y + h), (235, 235, 235), -1)
    cv2.putText(img, "7ABC123", (x + 4, y + h - 6), cv2.FONT_HERSHEY_SIMPLEX, plate_width / 200, (20, 20, 20), 2)
    return img


def find_white_plate(image: np.ndarray):
    """A stand-in plate finder (the real one is the detector): the largest bright blob."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(grey, 200, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 50]


def test_measured_plate_width_passes_at_75_px_and_saves_crops(tmp_path):
    result = plate_pixels_measured([scene(120), scene(130), scene(110)], find_white_plate, crops_dir=tmp_path)
    assert result.passed and 109 <= result.measured <= 132 and result.limit == 75 and result.unit == "px"
    assert len(result.crops) == 3 and all(p.exists() for p in result.crops)
    crop = cv2.imread(str(result.crops[0]))
    assert abs(crop.shape[1] - 121) <= 2  # the plate itself, not the frame


def test_measured_plate_too_small_fails_with_what_to_change(tmp_path):
    result = plate_pixels_measured([scene(50)] * 3, find_white_plate, crops_dir=tmp_path)
    assert not result.passed and result.measured < 75
    assert "zoom in" in result.message and "below 75 px" in result.message


def test_no_plate_in_the_test_frames_fails():
    result = plate_pixels_measured([np.zeros((100, 100, 3), np.uint8)], find_white_plate)
    assert not result.passed and result.measured is None and "no plate found" in result.message


def test_computed_plate_width_from_sensor_lens_and_distance():
    # IMX477: 6.287 mm wide at 4056 px; binned to 1920 px. A 305 mm plate at 15 m with a 25 mm lens:
    # 305 * 25 / 15000 = 0.508 mm on the sensor -> 0.508 / 6.287 * 1920 = 155 px.
    r = plate_pixels_computed(sensor_width_mm=6.287, focal_length_mm=25, distance_m=15, image_width_px=1920)
    assert r.passed and r.measured == pytest.approx(155.1, abs=0.2)
    wide = plate_pixels_computed(sensor_width_mm=6.287, focal_length_mm=6, distance_m=15, image_width_px=1920)
    assert not wide.passed and wide.measured == pytest.approx(37.2, abs=0.2)
    assert "12.1 mm lens" in wide.message  # what would reach 75 px
    with pytest.raises(ValueError, match="distance_m must be a number greater than 0"):
        plate_pixels_computed(sensor_width_mm=6.287, focal_length_mm=6, distance_m=0, image_width_px=1920)


def test_shutter_vs_speed_limit():
    ok = shutter_vs_speed(1000, 55)  # 1/1000 s covers 55 mph (limit 1/990 s = 1010 us)
    assert ok.passed and ok.measured == 1000 and ok.limit == 1010 and ok.unit == "us"
    slow = shutter_vs_speed(2000, 35)  # limit 1/630 s = 1587 us
    assert not slow.passed and slow.limit == 1587 and "too slow" in slow.message
    with pytest.raises(ValueError, match="speed limit must be 1 to 200 mph"):
        shutter_vs_speed(1000, 0)


class NightCamera:
    """Replayed night frames lit by the simulated illuminator: a plate shines when the mock pin is on."""

    def __init__(self, board):
        self.board = board

    def grab(self) -> np.ndarray:
        lit = self.board.driver.pin(18).state > 0 and self.board.driver.pin(24).state == 0  # IR on, filter out
        return scene(120, brightness=90 if lit else 10) if lit else (scene(120) // 12)


def test_ir_switch_check_on_mock_pins_and_night_frames(tmp_path):
    board = make_io("simulated", IoPins(ir_illuminator=18, ir_cut=24), clock=ManualClock())
    try:
        cam = NightCamera(board)

        def night(on: bool) -> None:
            board.set_illuminator(1.0 if on else 0.0)
            board.set_ir_cut(not on)

        result = ir_switch_works(night, cam.grab, crops_dir=tmp_path, region=(200, 300, 120, 60))
        assert result.passed and result.measured > 100 and result.unit == "grey levels"
        assert sorted(p.name for p in result.crops) == ["ir-off.png", "ir-on.png"]
        assert board.illuminator_level == 0.0 and board.ir_cut_inserted is True  # left in day mode

        dead = ir_switch_works(lambda on: None, cam.grab)  # an illuminator that never lights
        assert not dead.passed and dead.measured == 0 and "illuminator's power" in dead.message
    finally:
        board.close()
