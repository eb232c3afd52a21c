"""training/reader/glyph_shuffle.py: real crops cut between their characters and reordered."""

import random

import cv2
import numpy as np

from appliance.synth.plates import render_plate
from training.reader.glyph_shuffle import Glyphs, align, boundaries, mixed, shuffled

TEXTS = ["7ABC123", "4XYZ567", "8KLM902", "5TRS318", "6GHJ781", "3NPQ205"]


def test_boundaries_fall_midway_between_peaks_and_half_a_pitch_outside():
    # Frames 4, 10, 16 of 32 across 320 px sit at x = 45, 105, 165; the pitch is 60 px.
    assert boundaries([4, 10, 16], 32, 320) == (15, 75, 135, 195)
    assert boundaries([0, 31], 32, 64) == (0, 32, 64)  # clipped to the crop


def test_shuffled_keeps_the_margins_and_labels_the_new_order():
    image = np.zeros((10, 40, 3), np.uint8)
    for i in range(4):
        image[:, 5 + 8 * i:13 + 8 * i] = 50 * (i + 1)  # four "glyphs" of distinct greys
    g = Glyphs(image, "ABCD", (5, 13, 21, 29, 37), cut=False)
    for seed in range(20):
        out, text = shuffled(g, random.Random(seed))
        assert 2 <= len(text) <= 8 and set(text) <= set("ABCD")
        assert out.shape[1] == 5 + 8 * len(text) + 3
        greys = [int(out[0, 5 + 8 * i, 0]) for i in range(len(text))]
        assert greys == [50 * ("ABCD".index(c) + 1) for c in text]


def test_the_shipped_reader_reads_reordered_rendered_plates(reader):
    """Alignment from the reader's own peaks cuts cleanly enough that the new serial reads."""
    rng = random.Random(5)
    crops = [(render_plate(rng, text=t, state="CA").image, t, False) for t in TEXTS]
    glyphs = align(crops, lambda imgs: reader.probabilities([cv2.cvtColor(i, cv2.COLOR_RGB2BGR) for i in imgs]))
    assert len(glyphs) >= len(TEXTS) - 1
    made = [shuffled(g, rng) for g in glyphs]
    reads = reader.read([cv2.cvtColor(img, cv2.COLOR_RGB2BGR) for img, _ in made])
    right = sum(r.text == t for r, (_, t) in zip(reads, made))
    assert right >= len(made) - 1, [(t, r.text) for r, (_, t) in zip(reads, made)]


def test_crops_the_reader_misreads_are_left_out(reader):
    rng = random.Random(6)
    crops = [(render_plate(rng, text="7ABC123", state="CA").image, "9ZZZ999", False)]
    assert align(crops, lambda imgs: reader.probabilities([cv2.cvtColor(i, cv2.COLOR_RGB2BGR) for i in imgs])) == []


def _striped(text: str, height: int, pitch: int, margin: int, group: str) -> Glyphs:
    """A fake crop whose glyph i is a dark bar on a light cell (so colours can be matched)."""
    image = np.full((height, 2 * margin + pitch * len(text), 3), 200, np.uint8)
    for i in range(len(text)):
        x = margin + pitch * i
        image[:, x + pitch // 3:x + 2 * pitch // 3] = 20 + 10 * i
    bounds = tuple(margin + pitch * i for i in range(len(text) + 1))
    return Glyphs(image, text, bounds, cut=False, group=group)


def test_mixed_takes_glyphs_from_the_same_face_scaled_to_the_crop():
    base = _striped("ABCD", 20, 10, 4, "va")
    donor = _striped("WXYZ", 40, 16, 6, "va")  # twice as tall: its 16 px cells become 8 px
    seen = set()
    for seed in range(30):
        m = mixed(base, [base, donor], random.Random(seed), rate=0.5)
        assert m.image.shape[0] == 20 and len(m.text) == 4 and m.group == "va"
        assert m.bounds[0] == 4 and m.bounds[-1] == m.image.shape[1] - 4  # margins kept
        for i, c in enumerate(m.text):
            width = m.bounds[i + 1] - m.bounds[i]
            assert width == (10 if c in "ABCD" else 8) and (c == "ABCD"[i] or c in "WXYZ")
        seen |= set(m.text)
    assert seen & set("WXYZ") and seen & set("ABCD")


def test_mixed_glyphs_take_the_replaced_glyphs_colours():
    base = _striped("AB", 20, 10, 4, "ut")
    donor = Glyphs((_striped("Z", 20, 10, 4, "ut").image // 2), "Z", (4, 14), cut=False, group="ut")  # a darker photo
    m = mixed(base, [donor], random.Random(0), rate=1.0)
    assert m.text == "ZZ"
    first = m.image[:, m.bounds[0]:m.bounds[1]].astype(float)
    replaced = base.image[:, base.bounds[0]:base.bounds[1]].astype(float)
    assert abs(first.mean() - replaced.mean()) < 2 and abs(first.std() - replaced.std()) < 3


def test_mixed_without_other_crops_of_the_face_returns_the_crop():
    base = _striped("ABC", 20, 10, 4, "nv")
    assert mixed(base, [base], random.Random(0), rate=1.0) is base
