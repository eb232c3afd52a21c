"""Real detector-like crops: the engine's own cuts of labelled US scenes.

The real crops in openalpr-us/crops are tight; at the pole the reader sees the engine's
cuts instead (widened corner quads, padded boxes, and re-cuts on the characters), with
plate frames, bolts and dealer text at the edges. Training on the cuts of the *training*
scenes, labelled with the scene's true plate, teaches the reader to ignore that surround
(US training scenes read "7CID930L", "LJ868321", "TP488" before). Leave-out scenes are
never cut here. The Brazilian scenes (`br_scene_cuts`) add 114 real plates photographed
at a distance: another plate font, but real blur, JPEG, dirt and holders, and A-Z 0-9
serials like the US ones; none of them is in any US split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from appliance.datasets import read_openalpr_folder
from appliance.recognition.engine import Recognizer
from appliance.recognition.detector import PlateDetector, iou
from appliance.recognition.reader import PlateReader
from training.splits import BR_SCENES, US_SCENES, scene_split_of

MIN_IOU = 0.3  # a detection this close to the labelled box is "the plate"


def cuts_of(frame: np.ndarray, det, recognizer: Recognizer) -> list[np.ndarray]:
    """The engine's two first cuts of one detection and their re-cuts (RGB)."""
    return [cv2.cvtColor(c, cv2.COLOR_BGR2RGB) for c, _ in recognizer.cuts(frame, [det])[0]]


def scene_cuts(split: str = "train") -> list[tuple[np.ndarray, str]]:
    """Every engine cut of every labelled plate the detector finds in one US scene split."""
    if split == "test":
        raise ValueError("the leave-out scenes are never used for training")
    return _cuts(US_SCENES, lambda name: scene_split_of(name) == split)


def br_scene_cuts() -> list[tuple[np.ndarray, str]]:
    """Every engine cut of every labelled plate the detector finds in the Brazilian scenes."""
    return _cuts(BR_SCENES, lambda name: True)


def _cuts(folder: Path, keep: Callable[[str], bool]) -> list[tuple[np.ndarray, str]]:
    """The engine's cuts of the labelled plates in an openalpr-format folder, scenes chosen by name."""
    detector = PlateDetector()
    recognizer = Recognizer(PlateReader(), detector)
    out: list[tuple[np.ndarray, str]] = []
    for scene in read_openalpr_folder(folder):
        if not keep(scene.path.name):
            continue
        frame = cv2.imread(str(scene.path), cv2.IMREAD_COLOR)
        found = detector.detect(frame)
        for (x, y, w, h), plate in zip(scene.boxes, scene.plates):
            box = (x, y, x + w, y + h)
            dets = [d for d in found if iou(d.box, box) >= MIN_IOU]
            if dets:
                best = detector.refine(frame, [max(dets, key=lambda d: iou(d.box, box))])[0]  # as the engine
                out.extend((c, plate) for c in cuts_of(frame, best, recognizer))
    return out
