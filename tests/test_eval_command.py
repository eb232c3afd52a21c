"""`alpr eval`: accuracy and speed on labelled folders, clear errors on bad ones."""

import json

import cv2

from appliance.synth.samples import write_samples
from appliance.synth.scenes import box_of
from conftest import alpr
from test_full_frame import _scene


def test_eval_crops_on_rendered_samples(tmp_path):
    rows = write_samples(tmp_path, 8, seed=3)
    result = alpr("eval", str(tmp_path), "--crops", "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["crops"] == 8 and s["correct"] == 8 - len(s["failures"]) and s["correct"] >= 6
    assert s["ms_per_crop_mean"] > 0
    assert {f["truth"] for f in s["failures"]} <= {r[2] for r in rows}


def test_eval_scenes_in_openalpr_format(tmp_path):
    for i, texts in enumerate([["7ABC123"], ["4XYZ567"]]):
        scene = _scene(300 + i, texts)
        cv2.imwrite(str(tmp_path / f"s{i}.jpg"), scene.image)
        x, y, w, h = box_of(scene.corners[0])
        (tmp_path / f"s{i}.txt").write_text(f"s{i}.jpg\t{x}\t{y}\t{w}\t{h}\t{texts[0]}\n")
    result = alpr("eval", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["images"] == 2 and s["plates"] == 2 and s["detection_recall"] >= 0.5 and s["ms_per_image_mean"] > 0


def test_eval_reports_missing_labels(tmp_path):
    result = alpr("eval", str(tmp_path), "--crops")
    assert result.returncode == 2 and "labels.csv" in result.stderr
    result = alpr("eval", str(tmp_path))
    assert result.returncode == 2 and "openalpr" in result.stderr


def test_eval_scores_a_candidate_reader_file(tmp_path):
    """--reader scores another ONNX file; a missing or wrong model is a clear error."""
    from appliance.recognition import detector, reader

    write_samples(tmp_path, 4, seed=5)
    shipped = json.loads(alpr("eval", str(tmp_path), "--crops", "--json").stdout)
    same = alpr("eval", str(tmp_path), "--crops", "--json", "--reader", str(reader.default_model_path()))
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout)["failures"] == shipped["failures"]
    missing = alpr("eval", str(tmp_path), "--crops", "--reader", str(tmp_path / "nope.onnx"))
    assert missing.returncode == 2 and "nope.onnx is missing" in missing.stderr
    wrong = alpr("eval", str(tmp_path), "--crops", "--reader", str(detector.default_model_path()))
    assert wrong.returncode == 2 and "reader model expects input" in wrong.stderr
