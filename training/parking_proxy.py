"""A stand-in for issue 3's California parking-lot photos, made from the US scenes.

Those photos (640x480, plates ~75 px wide) are not in ../shared/data. This scales each US
scene of one split so its plate is `--plate-width` px wide and cuts a 640x480 window
holding it (placed by a hash of the file name, reflected at the edges when the scaled
photo is smaller), with the labels moved to match, into an openalpr-format folder that
`alpr eval` reads. The plates are US plates of many states, not only California's, and
scaling a sharp photo down is kinder than a camera that sees a plate that small, so the
figure is a guide, not the target's measurement.

Usage: python -m training.parking_proxy OUT [--split test] [--plate-width 75]
       alpr eval OUT
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np

from appliance.datasets import LabelledScene, read_openalpr_folder
from training.splits import US_SCENES, scene_split_of

FRAME_W, FRAME_H = 640, 480


def window(scene: LabelledScene, image: np.ndarray, plate_width: float) -> tuple[np.ndarray, list[str]]:
    """The 640x480 window of the scaled scene and its openalpr label lines."""
    x, y, w, h = scene.boxes[0]
    f = plate_width / w
    small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    small = cv2.copyMakeBorder(small, 0, max(0, FRAME_H - small.shape[0]), 0, max(0, FRAME_W - small.shape[1]),
                               cv2.BORDER_REFLECT)
    r = int(hashlib.sha1(scene.path.name.encode()).hexdigest(), 16)
    ox = int(min(max(0, x * f - (r % 1000) / 1000 * (FRAME_W - plate_width)), small.shape[1] - FRAME_W))
    oy = int(min(max(0, y * f - (r // 1000 % 1000) / 1000 * (FRAME_H - h * f)), small.shape[0] - FRAME_H))
    lines = [f"{scene.path.name}\t{round(bx * f - ox)}\t{round(by * f - oy)}\t{round(bw * f)}\t{round(bh * f)}\t{p}"
             for (bx, by, bw, bh), p in zip(scene.boxes, scene.plates)]
    return small[oy:oy + FRAME_H, ox:ox + FRAME_W], lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--split", choices=["train", "val", "test"], default="test")
    p.add_argument("--plate-width", type=float, default=75.0)
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    n = 0
    for scene in read_openalpr_folder(US_SCENES):
        if scene_split_of(scene.path.name) != a.split:
            continue
        frame, lines = window(scene, cv2.imread(str(scene.path), cv2.IMREAD_COLOR), a.plate_width)
        cv2.imwrite(str(a.out / scene.path.name), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
        (a.out / f"{scene.path.stem}.txt").write_text("\n".join(lines) + "\n")
        n += 1
    print(f"{n} scenes of the {a.split} split in {a.out}, plates {a.plate_width:g} px wide in 640x480: alpr eval {a.out}")


if __name__ == "__main__":
    main()
