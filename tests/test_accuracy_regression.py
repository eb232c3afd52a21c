"""Accuracy regression on the fixed leave-out subsets of ../shared/data (never trained on).

Thresholds sit a few points under what was measured when the shipped models were
exported (README, "Recognition results"), so noise does not fail the suite but a real
regression does.
"""

from appliance.evaluation import evaluate_crops, evaluate_scenes
from appliance.recognition.engine import Recognizer
from training.splits import US_CROPS, US_SCENES, crops_in, scene_split_of

MEASURED_CROPS_EXACT = None  # set when the model is exported
MEASURED_SCENES_EXACT = None
MEASURED_SCENES_FOUND = None
MARGIN = 0.04


def test_reader_on_leave_out_crops(shared_data, reader):
    only = {c.path.name for c in crops_in("test")}
    ev = evaluate_crops(Recognizer(reader), US_CROPS, only)
    assert ev.total == len(only) == 156
    assert ev.accuracy >= MEASURED_CROPS_EXACT - MARGIN, ev.summary()["failures"]


def test_detector_and_reader_on_leave_out_scenes(shared_data, recognizer):
    only = {p.name for p in US_SCENES.glob("*.jpg") if scene_split_of(p.name) == "test"}
    s = evaluate_scenes(recognizer, US_SCENES, only).summary()
    assert s["images"] == len(only) == 59
    assert s["detection_recall"] >= MEASURED_SCENES_FOUND - MARGIN, s["failures"]
    assert s["exact_accuracy"] >= MEASURED_SCENES_EXACT - MARGIN, s["failures"]
