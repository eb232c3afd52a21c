"""How well a reader reads synthetic plates in the renderer's faces and in unseen ones.

A reader that only knows a few serial faces misreads real plates in other faces; this
measures that gap on synthetic crops, where the text is known and only the face differs.
Usage: python -m training.reader.face_gap [--reader MODEL.onnx] [--n 400]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from appliance.recognition.plate_format import vanity_zeros
from appliance.recognition.reader import INPUT_H, INPUT_W, PlateReader
from appliance.synth.degrade import training_sample
from appliance.synth.plates import SERIAL_FONTS, render_plate
from training.reader.faces import extra_faces


def exact(reader: PlateReader, faces: tuple[str, ...], n: int, seed: int) -> int:
    """Exact reads of n degraded crops (twice the reader's size, BGR, as a camera gives)."""
    rng, ok = random.Random(seed), 0
    for _ in range(n):
        plate = render_plate(rng, faces=faces)
        crop = training_sample(plate.image, rng, 2 * INPUT_W, 2 * INPUT_H)[:, :, ::-1]
        ok += reader.read([np.ascontiguousarray(crop)])[0].text == vanity_zeros(plate.text)
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--reader", type=Path, help="ONNX reader (default: the shipped one)")
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--seed", type=int, default=123)
    a = p.parse_args()
    reader = PlateReader(a.reader)
    for name, faces in (("renderer's faces", SERIAL_FONTS), ("extra faces", extra_faces())):
        ok = exact(reader, faces, a.n, a.seed)
        print(f"{name}: {ok}/{a.n} exact = {100 * ok / a.n:.1f} %")


if __name__ == "__main__":
    main()
