"""The domain's names, defined once: what a recogniser finds in an image."""

from __future__ import annotations

from dataclasses import dataclass, field


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
