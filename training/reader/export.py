"""Export the best reader checkpoint to ONNX (package data) and check it against torch.

Usage: python -m training.reader.export [--run .cache/reader-run] [--checkpoint best.pt]
`--checkpoint last.pt` exports the run's final EMA weights (when validation ties, the
annealed end of a cosine schedule is the steadier choice than the first step to reach it).
Writes the float reader to .cache/reader-fp32.onnx (opset 17, dynamic batch) with the
alphabet and input size in its metadata; `python -m training.reader.quantize` turns it into
the int8 model the package ships. `--out X.onnx` exports a candidate to compare with
`alpr eval ... --reader X.onnx`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from appliance.recognition.reader import ALPHABET, INPUT_H, INPUT_W
from training.onnx_export import export
from training.reader.model import Reader


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", type=Path, default=Path(".cache/reader-run"))
    p.add_argument("--out", type=Path, default=Path(".cache/reader-fp32.onnx"))
    p.add_argument("--checkpoint", default="best.pt", choices=["best.pt", "last.pt"])
    a = p.parse_args()
    ck = torch.load(a.run / a.checkpoint, weights_only=False)
    model = Reader.with_weights(ck["ema"])
    export(model, torch.rand(4, 3, INPUT_H, INPUT_W), a.out, {0: "batch"},
           {"alphabet": ALPHABET, "blank": "0", "input": f"3x{INPUT_H}x{INPUT_W} RGB/255",
            "step": str(ck["step"]),
            "val_exact": f"{ck['val']:.4f}" if "val" in ck else "last.pt: see the run's train.log"})


if __name__ == "__main__":
    main()
