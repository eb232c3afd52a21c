"""Write sample plate crops with known text, as a labelled folder `alpr eval` understands.

Usage: python -m appliance.synth.samples DIR [--count N] [--seed S]
The samples are lightly degraded (a mild detector-like crop, no heavy blur) so the demo
shows what the reader does on a reasonable camera crop.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

import cv2

from appliance.synth.degrade import detector_like_crop
from appliance.synth.plates import render_plate


def write_samples(out: Path, count: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """Render `count` plates into `out` with labels.csv; return (file, state, plate) rows."""
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        plate = render_plate(rng)
        crop = detector_like_crop(plate.image, rng, 256, 128)
        name = f"sample{i:03d}.png"
        cv2.imwrite(str(out / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        rows.append((name, plate.state.lower(), plate.text))
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "state", "plate"])
        w.writerows(rows)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, default=12)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    for name, state, text in write_samples(a.out, a.count, a.seed):
        print(f"{a.out / name}: {text} ({state.upper()})")


if __name__ == "__main__":
    main()
