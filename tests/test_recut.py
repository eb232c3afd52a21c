"""Second-pass cuts: where the reader saw characters decides the re-cut's centre and scale;
the text most cuts agree on is the one reported."""

import random

import cv2
import numpy as np
import pytest

from appliance.recognition.detector import Detection
from appliance.recognition.engine import CROP_H, CROP_W, box_corners, most_agreed, widen
from appliance.recognition.reader import ALPHABET, peak_frames
from appliance.recognition.recut import MIN_SCALE, SPAN, Extent, recut_scale, refit, text_extent
from appliance.synth.scenes import compose, procedural_background
from appliance.types import TextReading

CROP = np.float32([[0, 0], [CROP_W, 0], [CROP_W, CROP_H], [0, CROP_H]])


def _forward(quad: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Where frame points land in the crop that `quad` is rectified to."""
    h = cv2.getPerspectiveTransform(np.float32(quad), CROP)
    return cv2.perspectiveTransform(np.float32(points)[None], h)[0]


def test_text_extent_is_first_and_last_peak_as_width_shares():
    assert text_extent([3, 10, 27], 32) == pytest.approx((3.5 / 32, 27.5 / 32, 3))
    assert text_extent([20, 4], 32) == pytest.approx((4.5 / 32, 20.5 / 32, 2))


def test_one_character_gives_no_extent_and_bad_frames_are_refused():
    assert text_extent([12], 32) is None
    assert text_extent([], 32) is None
    with pytest.raises(ValueError, match="frames must be positive"):
        text_extent([1, 2], 0)


def test_peak_frames_follow_the_ctc_path():
    p = np.full((32, len(ALPHABET) + 1), 0.001, np.float32)
    p[:, 0] = 1.0
    for t, ch in ((4, "7"), (5, "7"), (11, "A"), (26, "3")):
        p[t, 0], p[t, ALPHABET.index(ch) + 1] = 0.001, 1.0
    p[5, ALPHABET.index("7") + 1] = 2.0  # the higher of two frames is the peak
    assert peak_frames(p / p.sum(1, keepdims=True)) == [5, 11, 26]


def test_well_cut_text_leaves_the_cut_unchanged():
    a = 0.5 - SPAN / 2
    assert np.allclose(refit(CROP, Extent(a, a + SPAN, 7), CROP_W, CROP_H), CROP, atol=1e-3)


def test_few_characters_keep_a_pitch_beyond_each_end():
    """Six characters read where seven are: the seventh, one pitch out, stays in the re-cut."""
    six = Extent(0.13, 0.13 + SPAN, 6)
    pitch = SPAN / 5
    assert recut_scale(six) == pytest.approx(SPAN + 2 * pitch)
    quad = refit(CROP, six, CROP_W, CROP_H)
    assert quad[0, 0] <= (six.first - pitch) * CROP_W + 1e-3 and quad[1, 0] >= (six.last + pitch) * CROP_W - 1e-3
    assert recut_scale(Extent(0.13, 0.13 + SPAN, 9)) == pytest.approx(1.0)


def test_off_centre_text_in_a_wide_cut_shrinks_and_moves_the_cut():
    """Text in the right part of a too-wide cut (detector box took in the bumper)."""
    quad = refit(CROP, Extent(0.3, 0.3 + 0.9 * SPAN, 8), CROP_W, CROP_H)
    w, h = quad[1, 0] - quad[0, 0], quad[3, 1] - quad[0, 1]
    assert w == pytest.approx(0.9 * CROP_W, rel=1e-3) and h == pytest.approx(0.9 * CROP_H, rel=1e-3)
    assert quad[:, 0].mean() == pytest.approx((0.3 + 0.45 * SPAN) * CROP_W, rel=1e-3)
    assert quad[:, 1].mean() == pytest.approx(CROP_H / 2, rel=1e-3)


def test_shrinking_is_bounded_and_edge_to_edge_text_grows_the_cut():
    tiny = refit(CROP, Extent(0.49, 0.51, 2), CROP_W, CROP_H)
    assert tiny[1, 0] - tiny[0, 0] == pytest.approx(MIN_SCALE * CROP_W, rel=1e-3)
    tight = refit(CROP, Extent(0.49, 0.51, 3), CROP_W, CROP_H)  # 2 pitches: 0.04 wide
    assert tight[1, 0] - tight[0, 0] == pytest.approx(MIN_SCALE * CROP_W, rel=1e-3)
    full = refit(CROP, Extent(0.0, 1.0, 9), CROP_W, CROP_H)
    assert full[1, 0] - full[0, 0] == pytest.approx(CROP_W / SPAN, rel=1e-3)
    assert full[:, 0].mean() == pytest.approx(CROP_W / 2, rel=1e-3)


def test_perspective_quads_are_refit_in_their_own_rectified_frame():
    """A tilted, foreshortened plate: the re-cut is a rectangle in the first cut's crop."""
    quad = np.float32([[100, 200], [260, 215], [255, 290], [98, 270]])
    extent = Extent(0.1, 0.1 + SPAN * 1.1, 8)
    new = refit(quad, extent, CROP_W, CROP_H)
    got = _forward(quad, new)
    xc, hw, hh = (extent.first + extent.last) / 2 * CROP_W, 1.1 * CROP_W / 2, 1.1 * CROP_H / 2
    want = [[xc - hw, CROP_H / 2 - hh], [xc + hw, CROP_H / 2 - hh], [xc + hw, CROP_H / 2 + hh], [xc - hw, CROP_H / 2 + hh]]
    assert np.allclose(got, want, atol=0.05)


@pytest.mark.parametrize("bad", [Extent(0.6, 0.4, 5), Extent(-0.1, 0.5, 5), Extent(0.2, 1.2, 5), Extent(0.2, 0.4, 1)])
def test_impossible_extents_are_refused(bad):
    with pytest.raises(ValueError, match="extent must have"):
        refit(CROP, bad, CROP_W, CROP_H)


def test_every_detection_gets_two_cuts_and_their_recuts(recognizer):
    """With the shipped models: a box far too wide for the plate still yields the plate's text.

    The detection is faked 50 % wider than the synthetic plate (what the detector does
    on small real plates); the re-cuts are what narrow it back to the plate.
    """
    rng = random.Random(7)
    bg, _ = procedural_background(rng, 1280, 720)
    scene = compose(rng, bg, count=1, width_range=(160, 160), texts=["7ABC123"])
    quad = widen(scene.corners[0], (1.5, 1.2))
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    det = Detection(0.9, (float(x0), float(y0), float(x1), float(y1)), quad)
    reads = recognizer._read_cuts(scene.image, [det])
    assert len(reads) == 1 and len(reads[0]) == 4
    assert max(reads[0], key=lambda r: r.confidence).text == "7ABC123", [r.text for r in reads[0]]
    assert np.allclose(box_corners(det.box)[0], [x0, y0])


def _read(text: str, confidence: float, states: tuple[str, ...] = ()) -> TextReading:
    return TextReading(text, confidence, (confidence,) * len(text), (), states)


def test_majority_beats_one_confidently_wrong_cut():
    """A clipped end character read at 0.997 loses to three reads of the whole plate."""
    reads = [_read("7RRP623", 0.64), _read("RRP623", 0.997), _read("7RRP623", 0.995), _read("7RRP623", 0.99)]
    assert most_agreed(reads) is reads[2]


def test_tie_goes_to_a_state_format_then_to_summed_confidence():
    zero = [_read("0JYA479", 0.59, ("CA",)), _read("0JYA479", 0.49, ("CA",))]
    oh = [_read("OJYA479", 0.61), _read("OJYA479", 0.56)]
    assert most_agreed(oh + zero) is zero[0]
    assert most_agreed([_read("ABC", 0.3), _read("ABD", 0.5), _read("ABC", 0.4), _read("ABD", 0.1)]).text == "ABC"


def test_single_read_is_returned_and_no_reads_is_refused():
    only = _read("CCLVN3", 0.2)
    assert most_agreed([only]) is only
    with pytest.raises(ValueError, match="at least one reading"):
        most_agreed([])
