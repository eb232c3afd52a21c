"""Second-pass plate cuts: re-centre and re-scale a cut on where the reader saw characters.

The detector's box is often 20-40 % too wide or too narrow on small plates, which
makes the reader add a character from the surround or drop one at the edge. The
reader's own CTC output says where the characters are: each emitted character peaks
at one of T frames laid evenly across the crop. The re-cut is centred on the first
and last peaks and sized so that they sit SPAN of its width apart (plates cut at
their labelled box put them at frames ~3.5 and ~27 of 32), but never so tight that
less than one character pitch is left beyond either end: an end character the first
read missed must still be inside. It is built in the first cut's rectified
coordinates and mapped back through its homography, so perspective is kept.
Chosen on the US training/validation scenes; the leave-out scenes were read once.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

SPAN = 0.74  # first-to-last character peak distance as a share of a well-cut plate's width
PITCH_MARGIN = 1.0  # character pitches kept beyond the first and last peaks, at least
MIN_SCALE = 0.75  # never shrink a cut more than this in one step
MIN_CHARS = 2  # one peak gives a centre but no width or pitch


class Extent(NamedTuple):
    """Where the read characters sit in a crop, as shares (0..1) of its width."""

    first: float  # centre of the first character's peak frame
    last: float  # centre of the last character's peak frame
    chars: int  # how many characters were read


def text_extent(peaks: list[int], frames: int) -> Extent | None:
    """The extent of characters peaking at `peaks` among `frames`, or None if too few."""
    if frames <= 0:
        raise ValueError(f"frames must be positive, got {frames}")
    if len(peaks) < MIN_CHARS:
        return None
    return Extent((min(peaks) + 0.5) / frames, (max(peaks) + 0.5) / frames, len(peaks))


def recut_scale(extent: Extent) -> float:
    """The re-cut's width as a multiple of the first cut's."""
    span = extent.last - extent.first
    pitch = span / (extent.chars - 1)
    return max(span / SPAN, span + 2 * PITCH_MARGIN * pitch, MIN_SCALE)


def refit(quad: np.ndarray, extent: Extent, crop_w: int, crop_h: int) -> np.ndarray:
    """The frame quad of the re-cut, from the quad whose crop_w x crop_h crop gave `extent`.

    `quad` is (4,2), clockwise from top-left; the re-cut keeps its vertical centre and
    aspect and is centred on the characters.
    """
    if not (0.0 <= extent.first <= extent.last <= 1.0 and extent.chars >= MIN_CHARS):
        raise ValueError(f"extent must have 0 <= first <= last <= 1 and at least {MIN_CHARS} chars, got {extent}")
    scale = recut_scale(extent)
    xc, yc = (extent.first + extent.last) / 2 * crop_w, crop_h / 2
    hw, hh = scale * crop_w / 2, scale * crop_h / 2
    rect = np.float32([[xc - hw, yc - hh], [xc + hw, yc - hh], [xc + hw, yc + hh], [xc - hw, yc + hh]])
    dst = np.float32([[0, 0], [crop_w, 0], [crop_w, crop_h], [0, crop_h]])
    back = cv2.getPerspectiveTransform(dst, np.asarray(quad, np.float32))
    return cv2.perspectiveTransform(rect[None], back)[0].astype(np.float32)
