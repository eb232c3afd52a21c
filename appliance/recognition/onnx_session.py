"""onnxruntime sessions with deliberately chosen options.

One intra-op thread by default: on a 4-core Pi the capture thread, the detector and the
web UI need the other cores, and for models this small (< 1 M parameters) extra threads
mostly add synchronisation. Threads do not spin while idle, so a waiting session costs no
CPU. Graph optimisation is full (constant folding, conv+BN fusion), done once at load.
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from appliance.errors import ModelError


def make_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """Open an ONNX model on the CPU with `threads` intra-op threads."""
    if not Path(path).is_file():
        raise ModelError(f"model file {path} is missing: train and export it (see training/README.md)")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load model {path}: {exc}") from exc
