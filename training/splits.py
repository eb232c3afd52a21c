"""Deterministic train/validation/leave-out splits of the shared real data.

Split by plate string (hash), so near-duplicates of one plate never straddle splits.
The leave-out ("test") split is never trained on; it is read once for the README figure
and by the accuracy regression test.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
US_CROPS = SHARED_DATA / "openalpr-us" / "crops"
UNKNOWN_LABEL = "0"  # three crops are labelled 0: text unknown, skipped


@dataclass(frozen=True)
class LabelledCrop:
    """One real crop with its state and plate text."""

    path: Path
    state: str
    plate: str


def split_of(plate: str) -> str:
    """'test' (25 %), 'val' (15 %) or 'train' (60 %), fixed by the plate string."""
    bucket = int(hashlib.sha1(plate.encode()).hexdigest(), 16) % 100
    return "test" if bucket < 25 else "val" if bucket < 40 else "train"


def load_crops(folder: Path = US_CROPS) -> list[LabelledCrop]:
    """All labelled crops in a folder with labels.csv (file,state,plate)."""
    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [LabelledCrop(folder / r["file"], r["state"], r["plate"].upper())
            for r in rows if r["plate"] != UNKNOWN_LABEL]


def crops_in(split: str, folder: Path = US_CROPS) -> list[LabelledCrop]:
    """The crops of one split."""
    return [c for c in load_crops(folder) if split_of(c.plate) == split]


US_SCENES = SHARED_DATA / "openalpr-us" / "scenes"
BR_SCENES = SHARED_DATA / "openalpr-br" / "scenes"


def scene_split_of(name: str) -> str:
    """US scenes: 'test' (about half, leave-out), 'val' (~10 %) or 'train', fixed by file name."""
    bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 100
    return "test" if bucket < 50 else "val" if bucket < 60 else "train"


def main() -> None:
    """Print the file names of one split, for `alpr eval DIR --files LIST`."""
    import argparse
    p = argparse.ArgumentParser(description="List the files of a split (one name per line).")
    p.add_argument("kind", choices=["crops", "scenes"])
    p.add_argument("split", choices=["train", "val", "test"])
    a = p.parse_args()
    if a.kind == "crops":
        names = [c.path.name for c in crops_in(a.split)]
    else:
        names = sorted(f.name for f in US_SCENES.glob("*.jpg") if scene_split_of(f.name) == a.split)
    print("\n".join(names))


if __name__ == "__main__":
    main()
