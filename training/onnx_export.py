"""Shared ONNX export: TorchScript exporter (opset 17), metadata, onnxruntime check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

MAX_DIFF = 1e-4


def export(model: torch.nn.Module, example: torch.Tensor, out: Path, dynamic: dict[int, str],
           metadata: dict[str, str]) -> float:
    """Export `model` to `out`, add metadata, and return max |onnxruntime - torch|."""
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (example,), str(out), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["output"],
                      dynamic_axes={"image": dynamic, "output": {0: "batch"}})
    m = onnx.load(str(out))
    for k, v in metadata.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    onnx.save(m, str(out))
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = model(example).numpy()
    diff = float(np.abs(sess.run(None, {"image": example.numpy()})[0] - want).max())
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB), max |ort - torch| = {diff:.2e}")
    if diff > MAX_DIFF:
        raise SystemExit(f"onnxruntime and torch disagree by {diff:.2e} > {MAX_DIFF}")
    return diff
