"""`alpr read`: recognise still images and print one JSON line per image (DESIGN.md contract)."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from appliance.errors import ImageError
from appliance.recognition.detector import PlateDetector
from appliance.recognition.engine import Recognizer
from appliance.recognition.image_io import load_image
from appliance.recognition.reader import PlateReader

EXIT_OK, EXIT_NONE_PROCESSED = 0, 2


def read_one(engine: Recognizer, path: str, crops: bool) -> dict:
    """Decode and read one image; ms covers decode plus recognition."""
    t0 = time.perf_counter()
    try:
        img = load_image(path)
    except ImageError as exc:
        return {"image": path, "error": str(exc)}
    plates = engine.read_crops([img])[0] if crops else engine.read_frame(img)
    ms = (time.perf_counter() - t0) * 1000
    plates = sorted(plates, key=lambda p: -p.confidence)
    return {"image": path, "ms": round(ms, 2), "plates": [p.as_json() for p in plates]}


def human_line(result: dict) -> str:
    if "error" in result:
        return f"{result['image']}: error: {result['error']}"
    texts = ", ".join(f"{p['text']} ({p['confidence']:.2f})" for p in result["plates"]) or "no plate"
    return f"{result['image']}: {texts}  [{result['ms']:.1f} ms]"


def run(images: list[str], crops: bool, as_json: bool, threads: int, out: TextIO = sys.stdout) -> int:
    """Read every image in order; exit 0 if at least one was processed, else 2."""
    engine = Recognizer(PlateReader(threads=threads), None if crops else PlateDetector(threads=threads))
    processed = 0
    for path in images:
        result = read_one(engine, path, crops)
        processed += "error" not in result
        print(json.dumps(result) if as_json else human_line(result), file=out, flush=True)
    return EXIT_OK if processed else EXIT_NONE_PROCESSED
