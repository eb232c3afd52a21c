"""Quantise the exported reader to int8 for the device, and check it still reads as well.

Usage: python -m training.reader.quantize [--src .cache/reader-fp32.onnx] [--out PACKAGE MODEL]

Convolutions are most of the reader's time (onnxruntime profile), and int8 convolutions run
on the dot-product instructions of the Pi 5's Cortex-A76 and of x86 VNNI cores. Static
quantisation (onnxruntime.quantization): conv weights int8 per output channel, activations
uint8 with ranges from the 99.999th percentile over training-split crops (never the
validation or leave-out crops), QDQ format so the file stays a standard ONNX graph. The
GRU and the output layer stay float. The result is checked on the validation crops: it
must read within one crop of the float model, or nothing is written to the package.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from appliance.evaluation import evaluate_crops
from appliance.recognition.engine import Recognizer
from appliance.recognition.reader import PlateReader, default_model_path, preprocess
from training.splits import US_CROPS, crops_in

CALIBRATION_CROPS = 200
MAX_LOSS = 1  # validation crops the int8 model may read worse than the float one


class Crops(CalibrationDataReader):
    """Feeds preprocessed crops one at a time, as the device reads them."""

    def __init__(self, batch: np.ndarray, input_name: str) -> None:
        self.items = iter([{input_name: batch[i:i + 1]} for i in range(len(batch))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.items, None)


def quantize(src: Path, out: Path) -> None:
    """Write the int8 reader for the float reader `src` to `out`."""
    crops = [cv2.imread(str(c.path), cv2.IMREAD_COLOR) for c in crops_in("train")[:CALIBRATION_CROPS]]
    input_name = onnx.load(str(src)).graph.input[0].name
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre))
        quantize_static(str(pre), str(out), Crops(preprocess(crops), input_name), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        op_types_to_quantize=["Conv"], calibrate_method=CalibrationMethod.Percentile)
    model = onnx.load(str(out))
    model.metadata_props.add(key="quantized", value=f"int8 conv weights per channel, uint8 activations, "
                             f"percentile ranges over {len(crops)} training crops")
    onnx.save(model, str(out))


def validation_exact(model: Path) -> int:
    """How many validation crops `model` reads exactly, scored as `alpr eval --crops` scores them."""
    only = {c.path.name for c in crops_in("val")}
    return evaluate_crops(Recognizer(PlateReader(model)), US_CROPS, only).correct


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--src", type=Path, default=Path(".cache/reader-fp32.onnx"))
    p.add_argument("--out", type=Path, default=default_model_path())
    a = p.parse_args()
    if not a.src.is_file():
        raise SystemExit(f"{a.src} is missing: export the float reader first (python -m training.reader.export)")
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "reader-int8.onnx"
        quantize(a.src, candidate)
        before, after = validation_exact(a.src), validation_exact(candidate)
        print(f"validation crops read exactly: float {before}, int8 {after}")
        if after < before - MAX_LOSS:
            raise SystemExit(f"int8 reader loses {before - after} validation crops; {a.out} left as it was")
        a.out.write_bytes(candidate.read_bytes())
    print(f"wrote {a.out} ({a.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
