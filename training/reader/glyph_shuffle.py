"""New real-looking training plates made by reordering the glyphs of real crops.

The reader's worst errors are look-alikes in state faces the synthetic renderer does not
draw (Virginia's narrow serif, Nevada's, Utah's). Each real crop shows a face with only
the 5-8 glyphs of one serial, always in that order. Cutting a crop between its characters
and putting the pieces back in another order (or repeating some) gives serials the
records never had, in the real face, on the real background, with the real blur: the
reader sees more combinations of the real glyphs and cannot lean on a crop's sequence.

Where each character sits comes from a reader's own CTC peaks (`peak_frames`) on the
crop; crops the aligning reader does not read exactly are left out, since their peaks
would not match the label.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from appliance.recognition.reader import decode, peak_frames

MIN_LEN, MAX_LEN = 2, 8


@dataclass(frozen=True)
class Glyphs:
    """One real crop cut at its character boundaries: bounds[i]..bounds[i+1] holds text[i]."""

    image: np.ndarray
    text: str
    bounds: tuple[int, ...]
    cut: bool  # an engine cut rather than a tight crop (augmented differently)


def boundaries(peaks: Sequence[int], frames: int, width: int) -> tuple[int, ...]:
    """Pixel columns between characters: midway between neighbouring peaks, half a pitch outside."""
    xs = [(t + 0.5) * width / frames for t in peaks]
    pitch = float(np.median(np.diff(xs))) if len(xs) > 1 else width / 4
    cols = [xs[0] - pitch / 2] + [(a + b) / 2 for a, b in zip(xs, xs[1:])] + [xs[-1] + pitch / 2]
    return tuple(int(round(min(max(c, 0), width))) for c in cols)


def align(crops: Sequence[tuple[np.ndarray, str, bool]],
          probabilities: Callable[[list[np.ndarray]], np.ndarray]) -> list[Glyphs]:
    """Glyph boundaries of every crop the aligning reader reads exactly (RGB crops)."""
    out = []
    for start in range(0, len(crops), 64):
        chunk = crops[start:start + 64]
        probs = probabilities([img for img, _, _ in chunk])
        for (img, text, cut), p in zip(chunk, probs):
            peaks = peak_frames(p)
            if decode(p).text != text or len(peaks) != len(text) or len(text) < MIN_LEN:
                continue
            bounds = boundaries(peaks, p.shape[0], img.shape[1])
            if all(b > a for a, b in zip(bounds, bounds[1:])):
                out.append(Glyphs(img, text, bounds, cut))
    return out


def shuffled(g: Glyphs, rng: random.Random) -> tuple[np.ndarray, str]:
    """The crop with its characters reordered (half the time) or resampled with repeats."""
    n = len(g.text)
    if rng.random() < 0.5:
        order = rng.sample(range(n), n)
    else:
        m = min(MAX_LEN, max(MIN_LEN, n + rng.choice((-1, 0, 0, 1))))
        order = [rng.randrange(n) for _ in range(m)]
    b = g.bounds
    pieces = [g.image[:, :b[0]]] + [g.image[:, b[i]:b[i + 1]] for i in order] + [g.image[:, b[-1]:]]
    return np.ascontiguousarray(np.hstack(pieces)), "".join(g.text[i] for i in order)

