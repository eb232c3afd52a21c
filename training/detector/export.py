"""Export the best detector checkpoint to ONNX (package data) and check it against torch.

Usage: python -m training.detector.export [--run .cache/detector-run]
Writes appliance/recognition/models/detector.onnx (opset 17; batch, height and width
dynamic; sigmoid in the graph, peak picking left to numpy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from appliance.recognition.detector import NET_H, NET_W, default_model_path
from training.detector.model import Detector
from training.onnx_export import export


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", type=Path, default=Path(".cache/detector-run"))
    p.add_argument("--out", type=Path, default=default_model_path())
    a = p.parse_args()
    ck = torch.load(a.run / "best.pt", weights_only=False)
    model = Detector()
    model.load_state_dict(ck["ema"])
    export(model, torch.rand(1, 3, NET_H, NET_W), a.out, {0: "batch", 2: "height", 3: "width"},
           {"input": f"3xHxW BGR/255, H and W multiples of 32 ({NET_W}x{NET_H} letterboxed)",
            "outputs": "heat, 4 log edge distances, 8 corner offsets; stride 4",
            "step": str(ck["step"]), "val_recall": f"{ck['recall']:.4f}"})


if __name__ == "__main__":
    main()
