"""`alpr eval DIR --crops`: exact-match accuracy and speed on a labelled folder of crops.

The folder holds images and labels.csv (`file,state,plate`); labels of `0` mean unknown
and are skipped. Timing covers the reader only (decode reported apart), one crop per
call, so the figure is what one crop costs on one thread.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import AlprError
from appliance.recognition.engine import Recognizer
from appliance.recognition.image_io import load_image

UNKNOWN = "0"


@dataclass
class CropEval:
    """Outcome of evaluating a folder of crops."""

    total: int = 0
    correct: int = 0
    read_ms: list[float] = field(default_factory=list)
    decode_ms: list[float] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # file, truth, read

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def summary(self) -> dict:
        ms = sorted(self.read_ms) or [0.0]
        return {"crops": self.total, "correct": self.correct, "exact_accuracy": round(self.accuracy, 4),
                "ms_per_crop_mean": round(sum(ms) / len(ms), 3), "ms_per_crop_median": round(ms[len(ms) // 2], 3),
                "decode_ms_mean": round(sum(self.decode_ms) / max(1, len(self.decode_ms)), 3),
                "failures": [{"file": f, "truth": t, "read": r} for f, t, r in self.failures]}


def read_labels(folder: Path, only: set[str] | None = None) -> list[tuple[str, str]]:
    """(file, plate) pairs from labels.csv, unknown labels skipped."""
    path = folder / "labels.csv"
    if not path.is_file():
        raise AlprError(f"{path} is missing: a crops folder needs labels.csv with columns file,state,plate")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"file", "plate"} <= set(rows[0]):
        raise AlprError(f"{path} needs the columns file,state,plate; got {','.join(rows[0])}")
    return [(r["file"], r["plate"].strip().upper()) for r in rows
            if r["plate"].strip() != UNKNOWN and (only is None or r["file"] in only)]


def evaluate_crops(engine: Recognizer, folder: Path, only: set[str] | None = None) -> CropEval:
    """Read every labelled crop once and compare exact text."""
    ev = CropEval()
    for name, truth in read_labels(folder, only):
        t0 = time.perf_counter()
        img = load_image(folder / name)
        t1 = time.perf_counter()
        plates = engine.read_crops([img])[0]
        ev.read_ms.append((time.perf_counter() - t1) * 1000)
        ev.decode_ms.append((t1 - t0) * 1000)
        text = plates[0].text if plates else ""
        ev.total += 1
        if text == truth:
            ev.correct += 1
        else:
            ev.failures.append((name, truth, text))
    return ev


@dataclass
class SceneEval:
    """Outcome of evaluating full frames against openalpr-format labels."""

    plates: int = 0
    found: int = 0
    correct: int = 0
    ms: list[float] = field(default_factory=list)  # decode + recognition, per image
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        ms = sorted(self.ms) or [0.0]
        return {"images": len(self.ms), "plates": self.plates,
                "exact_accuracy": round(self.correct / max(1, self.plates), 4),
                "detection_recall": round(self.found / max(1, self.plates), 4),
                "ms_per_image_mean": round(sum(ms) / len(ms), 2), "ms_per_image_median": round(ms[len(ms) // 2], 2),
                "failures": self.failures}


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of two (x, y, w, h) boxes."""
    from appliance.recognition.detector import iou
    return iou((a[0], a[1], a[0] + a[2], a[1] + a[3]), (b[0], b[1], b[0] + b[2], b[1] + b[3]))


def evaluate_scenes(engine: Recognizer, folder: Path, only: set[str] | None = None) -> SceneEval:
    """Read every labelled frame; score each true plate the way DESIGN.md's scorers do.

    Exact: the first plate in the (confidence-sorted) list whose box overlaps the true
    box has the true text. Found: some plate's box has IoU >= 0.3 with it.
    """
    from appliance.datasets import read_openalpr_folder
    ev = SceneEval()
    for scene in read_openalpr_folder(folder):
        if only is not None and scene.path.name not in only:
            continue
        t0 = time.perf_counter()
        plates = engine.read_frame(load_image(scene.path))
        ev.ms.append((time.perf_counter() - t0) * 1000)
        for box, truth in zip(scene.boxes, scene.plates):
            ev.plates += 1
            first = next((p for p in plates if _overlap(p.box, box) > 0), None)
            ev.found += any(_overlap(p.box, box) >= 0.3 for p in plates)
            ev.correct += bool(first and first.text == truth)
            if not first or first.text != truth:
                ev.failures.append({"file": scene.path.name, "truth": truth, "read": first.text if first else "",
                                    "found": any(_overlap(p.box, box) >= 0.3 for p in plates)})
    return ev
