"""`alpr read --json` keeps the contract of DESIGN.md that outside scorers rely on."""

import json
import random
import re

import cv2
import numpy as np

from appliance.synth.degrade import detector_like_crop
from appliance.synth.plates import render_plate
from appliance.synth.scenes import box_of, compose, procedural_background
from conftest import alpr


def _write_crop(path, text: str, seed: int) -> np.ndarray:
    rng = random.Random(seed)
    rgb = detector_like_crop(render_plate(rng, text=text, state="CA").image, rng, 256, 128)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(path), bgr)
    return bgr


def _lines(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_crops_contract_fields_order_errors_and_unusual_images(tmp_path):
    bgr = _write_crop(tmp_path / "plain.png", "7ABC123", 1)
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(tmp_path / "alpha.png"), np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)]))
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    names = ["plain.png", "missing.png", "grey.png", "notes.txt", "alpha.png", "empty.png", "deep.png"]
    paths = [str(tmp_path / n) for n in names]
    result = alpr("read", "--json", "--crops", *paths)
    assert result.returncode == 0, result.stderr
    lines = _lines(result)
    assert [line["image"] for line in lines] == paths  # one line per input, input order, path as given
    for name, line in zip(names, lines):
        if name in ("missing.png", "notes.txt", "empty.png"):
            assert list(line) == ["image", "error"] and line["error"]
            continue
        assert list(line) == ["image", "ms", "plates"] and line["ms"] >= 0
        assert len(line["plates"]) == 1, line
        plate = line["plates"][0]
        assert list(plate)[:3] == ["text", "confidence", "box"]
        assert plate["box"] == [0, 0, 256, 128]
        assert re.fullmatch(r"[A-Z0-9]+", plate["text"]) and 0 <= plate["confidence"] <= 1
    assert lines[0]["plates"][0]["text"] == "7ABC123"
    assert lines[4]["plates"][0]["text"] == "7ABC123"  # alpha composited, same pixels


def test_exit_2_when_no_image_could_be_processed(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 truncated")
    result = alpr("read", "--json", "--crops", str(tmp_path / "bad.jpg"), str(tmp_path / "nope.jpg"))
    assert result.returncode == 2
    assert all("error" in line for line in _lines(result)) and len(_lines(result)) == 2


def test_full_frame_contract(tmp_path):
    rng = random.Random(21)
    bg, _ = procedural_background(rng, 1280, 720)
    scene = compose(rng, bg, count=2, width_range=(170, 240), texts=["7ABC123", "5XYZ789"])
    cv2.imwrite(str(tmp_path / "frame.png"), scene.image)
    empty = procedural_background(random.Random(5), 1280, 720)[0]
    cv2.imwrite(str(tmp_path / "empty.png"), empty)
    result = alpr("read", "--json", str(tmp_path / "frame.png"), str(tmp_path / "empty.png"))
    assert result.returncode == 0, result.stderr
    frame, nothing = _lines(result)
    assert list(frame) == ["image", "ms", "plates"] and nothing["plates"] == []
    confidences = [p["confidence"] for p in frame["plates"]]
    assert confidences == sorted(confidences, reverse=True)
    found = {}
    for quad, text in zip(scene.corners, scene.texts):
        x, y, w, h = box_of(quad)
        for p in frame["plates"]:
            bx, by, bw, bh = p["box"]
            assert all(isinstance(v, int) for v in p["box"])
            if bx < x + w and x < bx + bw and by < y + h and y < by + bh:
                found[text] = p["text"]
                break
    assert found == {t: t for t in scene.texts}, frame["plates"]


def test_human_output_without_json(tmp_path):
    _write_crop(tmp_path / "p.png", "4XYZ567", 3)
    result = alpr("read", "--crops", str(tmp_path / "p.png"))
    assert result.returncode == 0 and "4XYZ567" in result.stdout
