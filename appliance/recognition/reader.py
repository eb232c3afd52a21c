"""The plate reader: a tight or detector-cut plate crop in, text with confidences out.

A CNN -> BiGRU -> CTC network (training/reader) exported to ONNX, its convolutions
quantised to int8, and shipped as package data. Decoding is greedy CTC in numpy for
where the characters are, then a small beam over look-alikes weighted by US plate
formats for what they are; a character's confidence is its probability at the frame
where it peaks and the plate's is the lowest of those, so one doubtful character makes
the whole read doubtful.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from appliance.errors import ModelError
from appliance.recognition import plate_format
from appliance.recognition.confusables import partners
from appliance.recognition.onnx_session import make_session
from appliance.types import Alternative, TextReading

INPUT_H, INPUT_W = 64, 128
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # CTC class i+1; class 0 is the blank
MAX_ALTERNATIVES = 5
BEAM_WIDTH = 20  # strings kept per position: alternatives and the format-weighted choice
MIN_ALT_PROB = 0.005  # per-character candidates below this are not worth listing


def default_model_path() -> Path:
    """The reader model shipped inside the package."""
    return Path(str(resources.files("appliance.recognition") / "models" / "reader.onnx"))


def preprocess(crops: Sequence[np.ndarray]) -> np.ndarray:
    """BGR uint8 crops -> (N,3,64,128) float32 RGB/255, plain resize as in training."""
    batch = np.empty((len(crops), 3, INPUT_H, INPUT_W), np.float32)
    for i, crop in enumerate(crops):
        small = cv2.resize(crop, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)
        batch[i] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)
    return batch * np.float32(1 / 255.0)


def _segments(probs: np.ndarray) -> list[tuple[int, int]]:
    """Greedy CTC path as (class, peak frame) per emitted character."""
    best = probs.argmax(-1)
    out: list[tuple[int, int]] = []
    prev = 0
    for t, k in enumerate(best):
        if k != 0 and k == prev and out:
            if probs[t, k] > probs[out[-1][1], k]:
                out[-1] = (int(k), t)
        elif k != 0:
            out.append((int(k), t))
        prev = k
    return out


def peak_frames(probs: np.ndarray) -> list[int]:
    """The frame at which each greedily emitted character peaks (where it sits in the crop)."""
    return [t for _, t in _segments(probs)]


def _candidates(frame: np.ndarray, chosen: int) -> list[tuple[str, float]]:
    """The chosen character and its plausible substitutes at its peak frame."""
    p = frame[1:] / max(float(frame[1:].sum()), 1e-9)  # renormalised without the blank
    char = ALPHABET[chosen - 1]
    cands = {char: float(p[chosen - 1])}
    for k in np.argsort(-p)[:3]:
        if p[k] >= MIN_ALT_PROB:
            cands[ALPHABET[k]] = float(p[k])
    for c in partners(char):  # confusables stay listed even when the net is sure
        cands.setdefault(c, max(float(p[ALPHABET.index(c)]), MIN_ALT_PROB * 0.1))
    return sorted(cands.items(), key=lambda kv: -kv[1])


def _beam(cands: list[list[tuple[str, float]]]) -> list[tuple[float, str]]:
    """Best-scoring strings (product of per-position probabilities), beam search."""
    beam: list[tuple[float, str]] = [(1.0, "")]
    for options in cands:
        beam = heapq.nlargest(BEAM_WIDTH, ((s * p, t + c) for s, t in beam for c, p in options))
    return beam


def _choose(beam: list[tuple[float, str]]) -> tuple[str, str, list[tuple[str, float]]]:
    """The string to report, the beam string it came from, and the other strings ranked.

    Each beam string is spelled as plate records spell it (vanity_zeros) and weighted by
    the plate-format prior; the highest weighted probability wins. The other strings,
    the O spellings of vanity plates among them (hotlists may hold either), keep their
    plain probability as score and are ranked by the same weighting. A spelling differs
    from its beam string only when the beam string fits no format (weight 1), so each
    beam string's formats are looked up once.
    """
    choice: dict[str, tuple[float, str]] = {}  # spelled -> (weighted probability, beam string)
    others: dict[str, tuple[float, float]] = {}  # any spelling -> (weighted, plain probability)
    for score, raw in beam:
        spelled = plate_format.vanity_zeros(raw)
        weighted = score * plate_format.format_prior(spelled)
        if weighted > choice.get(spelled, (-1.0, ""))[0]:
            choice[spelled] = (weighted, raw)
        for t, w in ((raw, score), (spelled, weighted)):
            if w > others.get(t, (-1.0, 0.0))[0]:
                others[t] = (w, score)
    text, (_, raw) = max(choice.items(), key=lambda kv: kv[1][0])
    others.pop(text)
    ranked = sorted(others.items(), key=lambda kv: -kv[1][0])
    return text, raw, [(t, prob) for t, (_, prob) in ranked]


def decode(probs: np.ndarray) -> TextReading:
    """Turn one crop's (T,C) probabilities into text, confidences and alternatives.

    The greedy CTC path fixes where the characters are; which character each one is
    comes from a beam over the look-alikes at those frames, weighted by the plate-format
    prior, so a character's confidence is the network's probability of the character
    finally chosen.
    """
    segs = _segments(probs)
    if not segs:
        return TextReading("", 0.0, (), (), (), plate_format.check("").reason)
    text, raw, others = _choose(_beam([_candidates(probs[t], k) for k, t in segs]))
    char_conf = tuple(float(probs[t, ALPHABET.index(c) + 1]) for c, (_, t) in zip(raw, segs))
    fmt = plate_format.check(text)
    alternatives = tuple(Alternative(t, s) for t, s in others[:MAX_ALTERNATIVES])
    return TextReading(text, min(char_conf) * fmt.factor, char_conf, alternatives, fmt.states, fmt.reason)


class PlateReader:
    """Reads batches of plate crops with one onnxruntime session (no global state)."""

    def __init__(self, model: Path | None = None, threads: int = 1) -> None:
        self.session = make_session(model or default_model_path(), threads)
        shape = self.session.get_inputs()[0].shape
        if list(shape[1:]) != [3, INPUT_H, INPUT_W]:
            raise ModelError(f"reader model expects input {shape}, this code feeds [N, 3, {INPUT_H}, {INPUT_W}]")
        self.input_name = self.session.get_inputs()[0].name

    def probabilities(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N,T,37) per-frame class probabilities for BGR crops."""
        if not crops:
            return np.zeros((0, 32, len(ALPHABET) + 1), np.float32)
        return self.session.run(None, {self.input_name: preprocess(crops)})[0]

    def read(self, crops: Sequence[np.ndarray]) -> list[TextReading]:
        """Read several crops in one model call (batching is cheaper per crop)."""
        return [decode(p) for p in self.probabilities(crops)]
