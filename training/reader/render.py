"""Pre-render synthetic reader samples into chunk files.

Rendering costs ~5 ms a sample here, so samples are rendered once, in chunks that
training can start on while later chunks are still being written. Each plate face is
cut and degraded twice (two different crops of one face cost little more than one).
Usage: python -m training.reader.render --out .cache/reader --chunks 32
`--extra-faces` adds the serif, slab and monospaced faces of training/reader/faces.py to
the renderer's own serial faces for these chunks only; the demo and tests keep the renderer's.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
from pathlib import Path

import numpy as np

from appliance.recognition.reader import INPUT_H, INPUT_W
from appliance.synth.degrade import training_sample
from appliance.synth.plates import SERIAL_FONTS, render_plate
from training.reader.faces import extra_faces

CHUNK = 5000


def render_chunk(args: tuple[Path, int, tuple[str, ...]]) -> str:
    """Write chunk `index` (deterministic for its index and faces) unless it exists."""
    out, index, faces = args
    path = out / f"synth-{index:04d}.npz"
    if path.exists():
        return f"{path.name} exists"
    rng = random.Random(1_000_003 * index + 17)
    images = np.empty((CHUNK, INPUT_H, INPUT_W, 3), np.uint8)
    labels = []
    for i in range(0, CHUNK, 2):
        plate = render_plate(rng, faces=faces)
        for j in range(2):
            images[i + j] = training_sample(plate.image, rng, INPUT_W, INPUT_H)
            labels.append(plate.text)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, images=images, labels=np.array(labels))
    tmp.rename(path)  # atomic: a half-written chunk is never read
    return path.name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=Path(".cache/reader"))
    p.add_argument("--chunks", type=int, default=32)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--extra-faces", action="store_true",
                   help="also draw serials in training/reader/faces.py's faces (each as often as one of the renderer's)")
    a = p.parse_args()
    faces = SERIAL_FONTS + (extra_faces() if a.extra_faces else ())
    a.out.mkdir(parents=True, exist_ok=True)
    with mp.Pool(a.workers) as pool:
        for name in pool.imap(render_chunk, [(a.out, i, faces) for i in range(a.start, a.start + a.chunks)]):
            print(name, flush=True)


if __name__ == "__main__":
    main()
