"""Synthetic frames with one small plate each, in the openalpr format, for `alpr eval`.

The development set for choices about small plates (the zoomed refinement in
appliance/recognition/detector.py): it shares nothing with ../shared/data, so choosing on
it spends none of the leave-out split. Frames whose plate is cut by the frame's edge are
skipped (the composer puts some plates of cars at the edge half outside). Defaults give
the 1280x720 set of 50-90 px plates; `--size 640x480 --widths 55-95 --seed 9000` the
parking-lot-like one.

Usage: python -m training.small_plates OUT [--count 150] [--size 1280x720] [--widths 50-90] [--seed 5000]
       alpr eval OUT
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import cv2

from appliance.synth.scenes import box_of, compose, plate_quad, procedural_background


def pair(text: str) -> tuple[int, int]:
    a, b = text.replace("x", "-").split("-")
    return int(a), int(b)


def inside(quad, size: tuple[int, int]) -> bool:
    """The whole plate lies in the frame."""
    x, y, w, h = box_of(quad)
    return x >= 0 and y >= 0 and x + w <= size[0] and y + h <= size[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, default=150)
    p.add_argument("--size", type=pair, default=(1280, 720), help="frame WxH")
    p.add_argument("--widths", type=pair, default=(50, 90), help="plate widths LO-HI in pixels (a plate is also at most 0.3 of its drawn car's width)")
    p.add_argument("--seed", type=int, default=5000)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    made, seed = 0, a.seed
    while made < a.count:
        rng = random.Random(seed)
        seed += 1
        background, cars = procedural_background(rng, *a.size)
        spots = [plate_quad(rng, x + cw / 2, y + ch * 0.8, min(cw * 0.3, rng.uniform(*a.widths)))
                 for x, y, cw, ch in cars]  # on the drawn cars, as compose() places them
        scene = compose(rng, background, spots, count=1, width_range=a.widths)
        if not all(inside(q, a.size) for q in scene.corners):
            continue  # a plate cut by the frame's edge is no test of small plates
        name = f"small{made:03d}"
        made += 1
        cv2.imwrite(str(a.out / f"{name}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        lines = ["\t".join(map(str, (f"{name}.jpg", *box_of(q), t))) for q, t in zip(scene.corners, scene.texts)]
        (a.out / f"{name}.txt").write_text("\n".join(lines) + "\n")
    print(f"{a.count} frames in {a.out}: alpr eval {a.out}")


if __name__ == "__main__":
    main()
