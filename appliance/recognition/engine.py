"""The recognition engine: images in, Plates out.

Full frames: detect on a letterboxed 640x384 copy (small plates found again in a zoomed
window: PlateDetector.refine), cut each plate twice at full resolution (widened corners,
padded box) and rectify the cuts, read them in one batched reader call, re-cut each on
where its characters were seen (recut.py) and read those in a second batch, keep the text
most of the four reads agree on, drop what cannot be a plate (illegible, wrong shape,
overlay text), and suppress overlaps.
Crop mode reads an image that is already a tight plate crop.

Weak detections (weak_detections.py): peaks below the detector's threshold but above
WEAK_THRESHOLD are small or dim plates as often as sign text. Each is read once (its
box cut); those that read like a plate get the four reads, and are kept only when the
agreed text is a sure one in a state's format.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from appliance.recognition.detector import Detection, PlateDetector, iou
from appliance.recognition.reader import PlateReader, decode, peak_frames
from appliance.recognition.recut import refit, text_extent
from appliance.recognition.weak_detections import MAX_WEAK, WEAK_THRESHOLD, promising, sure
from appliance.types import Plate, TextReading

Cut = tuple[np.ndarray, np.ndarray]  # a rectified BGR crop and the reader's per-frame probabilities for it
MIN_CONFIDENCE = 0.1  # below this a read is reported as illegible
WIDEN = (1.2, 1.1)  # corner quads are grown this much (x, y) before the margin
BOX_GROWTH = (1.2, 1.2)  # the box cut: 10 % margin on every side
CROP_W, CROP_H = 256, 128  # rectified crop size; the reader resizes to 128x64
MARGIN = 0.06  # the reader was trained on crops with ~-5..+16 % margins
MIN_ASPECT, MAX_ASPECT = 0.9, 6.0  # US plates are 2:1; stacked or tilted ones stay inside


def rectify(frame: np.ndarray, corners: np.ndarray, margin: float | None = None) -> np.ndarray:
    """Warp the quad (grown by `margin`, default MARGIN) to an upright CROP_W x CROP_H crop."""
    margin = MARGIN if margin is None else margin
    c = corners.mean(axis=0)
    quad = ((corners - c) * (1 + 2 * margin) + c).astype(np.float32)
    dst = np.float32([[0, 0], [CROP_W, 0], [CROP_W, CROP_H], [0, CROP_H]])
    return cv2.warpPerspective(frame, cv2.getPerspectiveTransform(quad, dst), (CROP_W, CROP_H),
                               flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def widen(quad: np.ndarray, factor: tuple[float, float] = WIDEN) -> np.ndarray:
    """Grow a quad about its centre, more across than up (plates lose end characters)."""
    c = quad.mean(axis=0)
    return ((quad - c) * np.float32(factor) + c).astype(np.float32)


def box_corners(box: tuple[float, float, float, float]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def usable_corners(d: Detection) -> np.ndarray:
    """The detector's corners, or the box when the corners are degenerate."""
    quad = d.corners
    area = abs(cv2.contourArea(quad.astype(np.float32)))
    bw, bh = d.box[2] - d.box[0], d.box[3] - d.box[1]
    if not cv2.isContourConvex(quad.astype(np.float32)) or area < 0.4 * bw * bh:
        return box_corners(d.box)
    return quad


def first_cuts(d: Detection) -> tuple[np.ndarray, np.ndarray]:
    """The two first cuts of a detection: its corner quad widened, and its box grown."""
    return widen(usable_corners(d)), widen(box_corners(d.box), BOX_GROWTH)


def recut(quad: np.ndarray, probs: np.ndarray) -> np.ndarray | None:
    """The re-cut of `quad` on where its read's characters peaked, or None (too few read)."""
    ext = text_extent(peak_frames(probs), len(probs))
    return None if ext is None else refit(quad, ext, CROP_W, CROP_H)


def plate_shaped(d: Detection) -> bool:
    bw, bh = d.box[2] - d.box[0], d.box[3] - d.box[1]
    return bh > 0 and MIN_ASPECT <= bw / bh <= MAX_ASPECT


class Recognizer:
    """Reads plates in still images or frames with one reader and one detector."""

    def __init__(self, reader: PlateReader, detector: PlateDetector | None = None,
                 min_confidence: float = MIN_CONFIDENCE, weak_threshold: float | None = WEAK_THRESHOLD) -> None:
        self.reader = reader
        self.detector = detector
        self.min_confidence = min_confidence
        self.weak_threshold = weak_threshold  # None: weak detections are not read

    def read_crops(self, crops: list[np.ndarray]) -> list[list[Plate]]:
        """Read tight crops in one batch; each gives zero or one Plate covering the crop."""
        out = []
        for crop, r in zip(crops, self.reader.read(crops)):
            h, w = crop.shape[:2]
            out.append([Plate(r.text, r.confidence, (0, 0, w, h), r)] if self._legible(r) else [])
        return out

    def read_frame(self, frame: np.ndarray, timings: dict[str, float] | None = None) -> list[Plate]:
        """Find and read every plate in a full BGR frame, most confident first.

        `timings`, when given, receives milliseconds spent in 'detect' and 'read'.
        """
        if self.detector is None:
            raise ValueError("this Recognizer has no detector: construct it with one to read full frames")
        t0 = time.perf_counter()
        strong, weak = self._detect(frame)
        t1 = time.perf_counter()
        weak, screened = self._screen(frame, weak)
        refined = self.detector.refine(frame, weak)
        # A refined weak plate is cut anew; one left as it was keeps its screened box cut.
        screened = [cut if r is d else None for d, r, cut in zip(weak, refined, screened)]
        weak = refined
        readings = [most_agreed(rs) for rs in self._read_cuts(frame, strong + weak, [None] * len(strong) + screened)]
        plates = [self._plate(frame, d, r) for d, r in zip(strong, readings) if self._legible(r)]
        plates += [self._plate(frame, d, r) for d, r in zip(weak, readings[len(strong):]) if sure(r)]
        if timings is not None:
            timings["detect"] = timings.get("detect", 0.0) + (t1 - t0) * 1000
            timings["read"] = timings.get("read", 0.0) + (time.perf_counter() - t1) * 1000
        return _suppress(sorted(plates, key=lambda p: -p.confidence))

    def _detect(self, frame: np.ndarray) -> tuple[list[Detection], list[Detection]]:
        """Plate-shaped detections: those above the detector's threshold, and the weak ones below it."""
        assert self.detector is not None
        strong_at = self.detector.threshold
        low = strong_at if self.weak_threshold is None else min(strong_at, self.weak_threshold)
        dets = [d for d in self.detector.detect(frame, low) if plate_shaped(d)]
        strong = self.detector.refine(frame, [d for d in dets if d.score >= strong_at])
        return strong, [d for d in dets if d.score < strong_at][:MAX_WEAK]

    def _screen(self, frame: np.ndarray, weak: list[Detection]) -> tuple[list[Detection], list[Cut]]:
        """The weak detections whose box cut reads like a plate, with that cut and its read.

        One batched read for all of them; the box cut's read is kept so that `cuts`
        does not read the same crop again.
        """
        if not weak:
            return [], []
        crops = [rectify(frame, first_cuts(d)[1], 0.0) for d in weak]
        probs = self.reader.probabilities(crops)
        kept = [(d, (c, p)) for d, c, p in zip(weak, crops, probs) if promising(decode(p))]
        return [d for d, _ in kept], [cut for _, cut in kept]

    def _read_cuts(self, frame: np.ndarray, dets: list[Detection],
                   box_cuts: list[Cut | None] | None = None) -> list[list[TextReading]]:
        """Every read of each detection (see `cuts`)."""
        return [[decode(p) for _, p in cs] for cs in self.cuts(frame, dets, box_cuts)]

    def cuts(self, frame: np.ndarray, dets: list[Detection],
             box_cuts: list[Cut | None] | None = None) -> list[list[Cut]]:
        """Each detection's cuts (BGR crops) with the reader's per-frame probabilities for them.

        Two first cuts, the corner quad widened (the detector tends to clip the first or
        last character) and the padded box, then each re-cut on its characters. Re-cuts fix
        the detector's scale error on small plates (US training/validation scenes 39 -> 45
        of 52 exact; leave-out never tuned on). Training cuts the scenes the same way
        (training/reader/scene_cuts.py). Two batched reader calls for all detections;
        `box_cuts[i]`, when given, is detection i's box cut already read (weak screening).
        """
        known = box_cuts or [None] * len(dets)
        quads = [q for d in dets for q in first_cuts(d)]
        first: list[Cut | None] = [known[i // 2] if i % 2 else None for i in range(len(quads))]
        todo = [i for i, cut in enumerate(first) if cut is None]
        crops = [rectify(frame, quads[i], 0.0) for i in todo]
        for i, crop, p in zip(todo, crops, self.reader.probabilities(crops)):
            first[i] = (crop, p)
        again = [(i // 2, r) for i, (q, (_, p)) in enumerate(zip(quads, first)) if (r := recut(q, p)) is not None]
        recrops = [rectify(frame, q, 0.0) for _, q in again]
        second = self.reader.probabilities(recrops)
        out = [[first[2 * i], first[2 * i + 1]] for i in range(len(dets))]
        for (i, _), crop, p in zip(again, recrops, second):
            out[i].append((crop, p))
        return out

    def _legible(self, r: TextReading) -> bool:
        return bool(r.text) and r.confidence >= self.min_confidence

    @staticmethod
    def _plate(frame: np.ndarray, d: Detection, r: TextReading) -> Plate:
        h, w = frame.shape[:2]
        x0, y0 = max(0, int(round(d.box[0]))), max(0, int(round(d.box[1])))
        x1, y1 = min(w, int(round(d.box[2]))), min(h, int(round(d.box[3])))
        return Plate(r.text, r.confidence, (x0, y0, x1 - x0, y1 - y0), r, d.score,
                     tuple(tuple(round(float(v), 1) for v in p) for p in d.corners))


def most_agreed(reads: list[TextReading]) -> TextReading:
    """The text most cuts agree on, and that text's surest read.

    A majority is steadier than the single most confident read: with four cuts, one cut
    that is confidently wrong (an end character clipped, O for 0) would otherwise win.
    Ties go to a text some state issues (plate_format), then to the higher summed
    confidence. Chosen on the US training/validation scenes and the synthetic drive-by.
    """
    if not reads:
        raise ValueError("most_agreed needs at least one reading")
    by_text: dict[str, list[TextReading]] = {}
    for r in reads:
        by_text.setdefault(r.text, []).append(r)

    def support(text: str) -> tuple[int, bool, float]:
        same = by_text[text]
        return len(same), bool(same[0].states), sum(r.confidence for r in same)

    return max(by_text[max(by_text, key=support)], key=lambda r: r.confidence)


def _suppress(plates: list[Plate]) -> list[Plate]:
    """Drop a plate that overlaps a more confident one (a second peak on one plate)."""
    kept: list[Plate] = []
    for p in plates:
        b = (p.box[0], p.box[1], p.box[0] + p.box[2], p.box[1] + p.box[3])
        if all(iou(b, (k.box[0], k.box[1], k.box[0] + k.box[2], k.box[1] + k.box[3])) < 0.3 for k in kept):
            kept.append(p)
    return kept
