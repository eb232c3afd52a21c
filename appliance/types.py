"""The domain's names, defined once: what a recogniser finds in an image."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from firmware.camera.frame import Frame

__all__ = ["Alternative", "TextReading", "Plate", "Frame", "Read"]


@dataclass(frozen=True)
class Alternative:
    """Another reading of the same plate (confusable characters swapped) and its score."""

    text: str
    score: float


@dataclass(frozen=True)
class TextReading:
    """What the reader made of one plate crop."""

    text: str  # A-Z and 0-9 only
    confidence: float  # lowest per-character confidence, lowered for impossible formats
    char_confidences: tuple[float, ...]
    alternatives: tuple[Alternative, ...] = ()
    states: tuple[str, ...] = ()  # states whose standard format matches the text
    format_note: str = ""  # why the format check lowered the confidence, if it did


@dataclass(frozen=True)
class Plate:
    """One plate found in an image, with its text: the unit `alpr read` prints."""

    text: str
    confidence: float
    box: tuple[int, int, int, int]  # x, y, w, h in pixels of the input image
    reading: TextReading = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    detection_score: float | None = None  # the detector's centre score (full frames only)
    corners: tuple[tuple[float, float], ...] = ()  # clockwise from top-left (full frames only)

    def as_json(self) -> dict:
        """The contract's fields first, then the optional extras."""
        d: dict = {"text": self.text, "confidence": round(self.confidence, 4), "box": list(self.box)}
        if self.corners:
            d["corners"] = [list(c) for c in self.corners]
        if self.detection_score is not None:
            d["detection_score"] = round(self.detection_score, 4)
        if self.reading is not None:
            d["char_confidences"] = [round(c, 4) for c in self.reading.char_confidences]
            d["alternatives"] = [{"text": a.text, "score": round(a.score, 4)} for a in self.reading.alternatives]
            if self.reading.states:
                d["format_states"] = list(self.reading.states)
        return d


@dataclass(frozen=True)
class Read:
    """One vehicle pass: the best plate reading over the frames it was seen in.

    Emitted by the tracker when a track ends; `crop` and `frame` come from the same
    frame as the chosen reading (the frame downscaled for storage).
    """

    id: str  # time-ordered UUID (appliance.ids.uuid7)
    device_id: str
    camera_id: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    alternatives: tuple[Alternative, ...]
    first_seen: datetime  # UTC
    last_seen: datetime  # UTC
    clock_synced: bool
    box: tuple[int, int, int, int]  # in the chosen frame
    direction: str  # "up", "down", "left", "right", "stationary" or "unknown" (image motion)
    frames_seen: int
    crop: np.ndarray = field(repr=False, compare=False)  # BGR plate crop
    frame: np.ndarray = field(repr=False, compare=False)  # BGR, downscaled
