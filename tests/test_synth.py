"""The synthetic plate and scene renderer: deterministic, labelled, plate-like."""

import random

import numpy as np
import pytest

from appliance.synth.degrade import training_sample
from appliance.synth.plates import FONT_DIR, PLATE_H, PLATE_W, SERIAL_FONTS, render_plate
from appliance.synth.scenes import box_of, compose, procedural_background
from appliance.synth.serials import STATE_PATTERNS, label_of, random_serial


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


def test_training_can_draw_the_serial_in_other_faces():
    """training/reader/render.py --extra-faces passes font files by absolute path."""
    serif = str(FONT_DIR / "DejaVuSerifCondensed-Bold.ttf")
    assert "DejaVuSerifCondensed-Bold.ttf" not in SERIAL_FONTS
    own = render_plate(random.Random(2), text="2291TK")
    other = render_plate(random.Random(2), text="2291TK", faces=(serif,))
    assert other.text == own.text == "2291TK"
    assert not np.array_equal(other.image, own.image)


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


def test_stacked_characters_and_emblems_never_enter_the_label():
    """Real US labels are the serial only (stacked 'HC', a whale, a sticker are skipped)."""
    rng = random.Random(11)
    for _ in range(200):
        before = rng.getstate()
        p = render_plate(rng)
        _, serial = random_serial(_replay(before), None)  # render_plate draws the serial first
        assert p.text == label_of(serial)


def test_a_fair_share_of_plates_get_unlabelled_side_items():
    from appliance.synth.plates import _side_items
    drawn = [any(_side_items(random.Random(seed), (10, 20, 90), 6, SERIAL_FONTS)) for seed in range(300)]
    assert 0.15 < sum(drawn) / len(drawn) < 0.6


def _replay(state) -> random.Random:
    r = random.Random()
    r.setstate(state)
    return r


def test_side_items_change_the_pixels_beside_the_serial():
    from appliance.synth.plates import _side_items
    left, right = next((lr for lr in (_side_items(random.Random(s), (10, 20, 90), 6, SERIAL_FONTS) for s in range(100)) if all(lr)),
                       (None, None))
    assert left is not None and right is not None
    for item in (left, right):
        alpha = np.asarray(item)[..., 3]
        assert alpha.max() == 255 and 0.02 < (alpha > 0).mean() < 0.95


def test_emblems_and_stickers_draw_something_for_every_kind():
    from PIL import Image

    from appliance.synth.ornaments import draw_emblem, draw_sticker
    from appliance.synth.plates import _font
    for seed in range(40):
        img = Image.new("RGB", (200, 100), (255, 255, 255))
        draw_emblem(img, (20, 10, 120, 90), (0, 0, 0), random.Random(seed), lambda s: _font("OSP-DIN.ttf", s))
        assert (np.asarray(img) < 128).any(), f"emblem for seed {seed} drew nothing"
        img = Image.new("RGB", (480, 240), (255, 255, 255))
        draw_sticker(img, random.Random(seed), lambda s: _font("OSP-DIN.ttf", s), (60, 180))
        assert (np.asarray(img) != 255).any()


def test_lookalike_serials_keep_the_pattern():
    from appliance.synth.serials import LOOKALIKE_DIGITS, LOOKALIKE_LETTERS, fill
    rng = random.Random(2)
    for _ in range(100):
        s = fill("LLL ###", rng, lookalike=1.0)
        assert all(c in LOOKALIKE_LETTERS for c in s[:3]) and s[3] == " "
        assert all(c in LOOKALIKE_DIGITS for c in s[4:])
    assert fill("##L", random.Random(1)) == fill("##L", random.Random(1), lookalike=0.0)


def test_a_holder_frames_the_plate_on_all_four_sides():
    from appliance.synth.degrade import in_holder

    plate = render_plate(random.Random(2)).image
    held = in_holder(plate, random.Random(5))
    h, w = plate.shape[:2]
    assert held.shape[0] > h and held.shape[1] > w
    # the plate sits inside, untouched except where the bevel line may run
    top = (held.shape[0] - h)
    inside = [held[y:y + h, x:x + w] for y in range(top + 1) for x in range(held.shape[1] - w + 1)]
    assert any(np.mean(np.all(c == plate, axis=-1)) > 0.95 for c in inside)


def test_engine_cuts_come_from_training_scenes_only():
    import pytest

    from training.reader.scene_cuts import scene_cuts
    from training.splits import US_SCENES

    if not US_SCENES.is_dir():
        pytest.skip("needs ../shared/data")
    with pytest.raises(ValueError, match="leave-out"):
        scene_cuts("test")
    cuts = scene_cuts("val")
    assert cuts and all(img.shape == (128, 256, 3) and text.isalnum() for img, text in cuts)


def test_missing_training_faces_name_the_packages(monkeypatch, tmp_path):
    from training.reader import faces
    monkeypatch.setattr(faces, "EXTRA_FACES", (tmp_path / "C059-Bold.otf",))
    with pytest.raises(SystemExit, match="apt-get install -y fonts-urw-base35"):
        faces.extra_faces()
