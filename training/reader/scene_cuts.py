"""Real detector-like crops: the engine's own cuts of labelled US scenes.

The real crops in openalpr-us/crops are tight; at the pole the reader sees the engine's
cuts instead (widened corner quads, padded boxes, and re-cuts on the characters), with
plate frames, bolts and dealer text at the edges. Training on the cuts of the *training*
scenes, labelled with the scene's true plate, teaches the reader to ignore that surround
(US training scenes read "7CID930L", "LJ868321", "TP488" before). Leave-out scenes are
never cut here.
"""

from __future__ import annotations

import cv2
import numpy as np

from appliance.recognition import engine
from appliance.recognition.detector import PlateDetector, iou
from appliance.recognition.reader import PlateReader
from training.splits import US_SCENES, scene_split_of

MIN_IOU = 0.3  # a detection this close to the labelled box is "the plate"


def _labelled_box(txt_line: str) -> tuple[tuple[float, float, float, float], str]:
    _, x, y, w, h, plate = txt_line.split()[:6]
    x0, y0 = float(x), float(y)
    return (x0, y0, x0 + float(w), y0 + float(h)), plate.upper()


def cuts_of(frame: np.ndarray, det, reader: PlateReader) -> list[np.ndarray]:
    """The engine's two first cuts of one detection and their re-cuts (RGB)."""
    quads = engine.first_cuts(det)
    crops = [engine.rectify(frame, q, 0.0) for q in quads]
    for q, p in zip(quads, reader.probabilities(crops)):
        if (again := engine.recut(q, p)) is not None:
            crops.append(engine.rectify(frame, again, 0.0))
    return [cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c in crops]


def scene_cuts(split: str = "train") -> list[tuple[np.ndarray, str]]:
    """Every engine cut of every labelled plate the detector finds in one US scene split."""
    if split == "test":
        raise ValueError("the leave-out scenes are never used for training")
    reader, detector = PlateReader(), PlateDetector()
    out: list[tuple[np.ndarray, str]] = []
    for jpg in sorted(US_SCENES.glob("*.jpg")):
        if scene_split_of(jpg.name) != split:
            continue
        frame = cv2.imread(str(jpg), cv2.IMREAD_COLOR)
        for line in jpg.with_suffix(".txt").read_text().splitlines():
            if not line.strip():
                continue
            box, plate = _labelled_box(line)
            dets = [d for d in detector.detect(frame) if iou(d.box, box) >= MIN_IOU]
            if dets:
                best = max(dets, key=lambda d: iou(d.box, box))
                out.extend((c, plate) for c in cuts_of(frame, best, reader))
    return out
