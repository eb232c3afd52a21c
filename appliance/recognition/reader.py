"""The plate reader: a tight or detector-cut plate crop in, text with confidences out.

A CNN -> BiGRU -> CTC network (training/reader) exported to ONNX and shipped as package
data. Decoding is greedy CTC in numpy; a character's confidence is its highest
probability over the frames that emit it and the plate's is the lowest of those, so one
doubtful character makes the whole read doubtful.
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


def _alternatives(cands: list[list[tuple[str, float]]], text: str) -> tuple[Alternative, ...]:
    """Best-scoring other strings (product of per-position probabilities), beam search."""
    beam: list[tuple[float, str]] = [(1.0, "")]
    for options in cands:
        beam = heapq.nlargest(MAX_ALTERNATIVES * 4, ((s * p, t + c) for s, t in beam for c, p in options))
    ranked = sorted(beam, key=lambda st: -st[0] * plate_format.format_bonus(st[1]))
    return tuple(Alternative(t, s) for s, t in ranked if t != text)[:MAX_ALTERNATIVES]


def decode(probs: np.ndarray) -> TextReading:
    """Turn one crop's (T,C) probabilities into text, confidences and alternatives."""
    segs = _segments(probs)
    text = plate_format.vanity_zeros("".join(ALPHABET[k - 1] for k, _ in segs))
    char_conf = tuple(float(probs[t, k]) for k, t in segs)
    fmt = plate_format.check(text)
    confidence = (min(char_conf) if char_conf else 0.0) * fmt.factor
    cands = [_candidates(probs[t], k) for k, t in segs]
    return TextReading(text, confidence, char_conf, _alternatives(cands, text), fmt.states, fmt.reason)


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
