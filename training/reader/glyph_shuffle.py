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

`mixed` goes one step further: a crop's characters are partly replaced by glyphs cut
from other crops of the same state (same face, another serial), so a state's face is
seen with every character any of its crops shows, not only one serial's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
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
    group: str = ""  # crops of one group share a face (a state's tight crops); "" mixes with none


def boundaries(peaks: Sequence[int], frames: int, width: int) -> tuple[int, ...]:
    """Pixel columns between characters: midway between neighbouring peaks, half a pitch outside."""
    xs = [(t + 0.5) * width / frames for t in peaks]
    pitch = float(np.median(np.diff(xs))) if len(xs) > 1 else width / 4
    cols = [xs[0] - pitch / 2] + [(a + b) / 2 for a, b in zip(xs, xs[1:])] + [xs[-1] + pitch / 2]
    return tuple(int(round(min(max(c, 0), width))) for c in cols)


def align(crops: Sequence[tuple[np.ndarray, str, bool]],
          probabilities: Callable[[list[np.ndarray]], np.ndarray],
          groups: Sequence[str] | None = None) -> list[Glyphs]:
    """Glyph boundaries of every crop the aligning reader reads exactly (RGB crops).

    `groups` (one per crop) names the crops that share a face, for `mixed`.
    """
    out = []
    groups = groups or [""] * len(crops)
    for start in range(0, len(crops), 64):
        chunk = crops[start:start + 64]
        probs = probabilities([img for img, _, _ in chunk])
        for (img, text, cut), group, p in zip(chunk, groups[start:start + 64], probs):
            peaks = peak_frames(p)
            if decode(p).text != text or len(peaks) != len(text) or len(text) < MIN_LEN:
                continue
            bounds = boundaries(peaks, p.shape[0], img.shape[1])
            if all(b > a for a, b in zip(bounds, bounds[1:])):
                out.append(Glyphs(img, text, bounds, cut, group))
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


def _matched(piece: np.ndarray, like: np.ndarray, height: int) -> np.ndarray:
    """A donor glyph scaled to the crop's height and shifted to the replaced glyph's colours."""
    width = max(1, round(piece.shape[1] * height / piece.shape[0]))
    piece = cv2.resize(piece, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    mean_p, std_p = piece.mean((0, 1)), piece.std((0, 1)) + 1.0
    mean_l, std_l = like.mean((0, 1)), like.std((0, 1)) + 1.0
    return np.clip((piece - mean_p) / std_p * std_l + mean_l, 0, 255).astype(np.uint8)


def mixed(g: Glyphs, donors: Sequence[Glyphs], rng: random.Random, rate: float = 0.4) -> Glyphs:
    """`g` with each character replaced, at `rate`, by a glyph of another crop of its group.

    Donor glyphs are scaled to the crop's height and matched to the replaced glyph's
    colour statistics (lighting differs between photos); the label follows.
    """
    donors = [d for d in donors if d is not g]
    if not donors:
        return g
    b, h = g.bounds, g.image.shape[0]
    pieces, text = [g.image[:, :b[0]]], ""
    for i, c in enumerate(g.text):
        own = g.image[:, b[i]:b[i + 1]]
        if rng.random() < rate:
            d = rng.choice(donors)
            j = rng.randrange(len(d.text))
            own, c = _matched(d.image[:, d.bounds[j]:d.bounds[j + 1]], own, h), d.text[j]
        pieces.append(own)
        text += c
    pieces.append(g.image[:, b[-1]:])
    widths = np.cumsum([p.shape[1] for p in pieces])
    return Glyphs(np.ascontiguousarray(np.hstack(pieces)), text, (b[0],) + tuple(int(w) for w in widths[1:-1]), g.cut, g.group)
