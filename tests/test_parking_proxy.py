"""The parking-lot stand-in (training/parking_proxy.py): plates scaled to ~75 px in 640x480 windows."""

from pathlib import Path

import numpy as np
import pytest

from appliance.datasets import LabelledScene
from training import parking_proxy


@pytest.mark.parametrize("size, box", [((720, 1280), (900, 600, 200, 100)), ((300, 400), (10, 250, 40, 20))])
def test_the_window_is_640x480_and_holds_the_plate_at_its_width(size, box):
    image = np.zeros((*size, 3), np.uint8)
    x, y, w, h = box
    image[y:y + h, x:x + w] = 255  # the plate, white
    scene = LabelledScene(Path(f"s{size[0]}.jpg"), (box,), ("7ABC123",))
    frame, lines = parking_proxy.window(scene, image, 75)
    assert frame.shape == (480, 640, 3)
    name, bx, by, bw, bh, plate = lines[0].split("\t")
    bx, by, bw, bh = map(int, (bx, by, bw, bh))
    assert (name, plate, bw) == (scene.path.name, "7ABC123", 75)
    assert 0 <= bx and bx + bw <= 640 and 0 <= by and by + bh <= 480
    assert frame[by + 2:by + bh - 2, bx + 2:bx + bw - 2].min() > 200  # the label sits on the plate


def test_small_plate_frames_are_labelled_in_the_openalpr_format(tmp_path, monkeypatch):
    """training/small_plates.py: one plate per frame, wholly inside it, within the asked widths."""
    import sys

    import cv2

    from appliance.datasets import read_openalpr_folder
    from training import small_plates

    monkeypatch.setattr(sys, "argv", ["small_plates", str(tmp_path), "--count", "3", "--size", "640x480",
                                      "--widths", "55-95"])
    small_plates.main()
    scenes = read_openalpr_folder(tmp_path)
    assert len(scenes) == 3
    for scene in scenes:
        (x, y, w, h), = scene.boxes
        assert cv2.imread(str(scene.path)).shape == (480, 640, 3)
        assert 10 <= w <= 110 and x >= 0 and y >= 0 and x + w <= 640 and y + h <= 480, scene.boxes
        assert 2 <= len(scene.plates[0]) <= 10
