"""The synthetic plate and scene renderer: deterministic, labelled, plate-like."""

import random

import numpy as np

from appliance.synth.degrade import training_sample
from appliance.synth.plates import PLATE_H, PLATE_W, render_plate
from appliance.synth.scenes import box_of, compose, procedural_background
from appliance.synth.serials import STATE_PATTERNS, label_of


def test_same_seed_same_plate():
    a, b = render_plate(random.Random(4)), render_plate(random.Random(4))
    assert a.text == b.text and np.array_equal(a.image, b.image)


def test_labels_are_plate_characters_of_us_lengths():
    rng = random.Random(1)
    texts = [render_plate(rng).text for _ in range(300)]
    assert all(t.isalnum() and t == t.upper() for t in texts)
    lengths = {len(t) for t in texts}
    assert min(lengths) >= 2 and max(lengths) <= 11 and len(lengths) >= 5


def test_requested_text_is_rendered_and_label_drops_separators():
    p = render_plate(random.Random(0), text="7ABC 123", state="CA")
    assert p.text == "7ABC123" and p.state == "CA"
    assert p.image.shape == (PLATE_H, PLATE_W, 3) and p.image.dtype == np.uint8
    assert label_of("AB-12 3") == "AB123"


def test_every_state_has_patterns():
    assert len(STATE_PATTERNS) == 51 and all(STATE_PATTERNS.values())


def test_training_sample_has_reader_size():
    plate = render_plate(random.Random(2))
    s = training_sample(plate.image, random.Random(3), 128, 64)
    assert s.shape == (64, 128, 3) and s.std() > 5


def test_scene_labels_put_plates_where_they_are_drawn():
    rng = random.Random(9)
    bg, _ = procedural_background(rng, 1280, 720)
    scene = compose(rng, bg.copy(), count=2, width_range=(120, 200))
    assert len(scene.corners) == len(scene.texts) >= 1
    for quad in scene.corners:
        x, y, w, h = box_of(quad)
        assert 100 <= w <= 260 and 0 <= x and x + w <= 1280 and 0 <= y and y + h <= 720
        # the pixels inside the plate changed from the background
        assert np.abs(scene.image[y:y + h, x:x + w].astype(int) - bg[y:y + h, x:x + w]).mean() > 10


def test_scene_without_plates():
    scene = compose(random.Random(3), count=0)
    assert scene.corners == [] and scene.texts == []
