"""Prune a reader's conv channels, keeping the weights of those left, for a fine-tune.

Usage: python -m training.reader.prune --checkpoint RUN/last.pt --keep 0.75 --out PRUNED.pt
then `python -m training.reader.train --init PRUNED.pt ...`.

Convolutions are 83 % of the reader's time (onnxruntime profile), and their cost grows with
the product of input and output channels, so keeping 75 % of the channels of the first
seven layers costs about 0.56 of their time. Which channels stay is decided by the size of
their BatchNorm scale: a channel whose scale is small contributes little after ReLU
(network slimming, Liu et al. 2017). The last conv layer keeps its 128 channels, since the
height collapse and the GRU read them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from training.reader.model import WIDTHS, Reader


def prune(state: dict[str, torch.Tensor], keep: float) -> dict[str, torch.Tensor]:
    """A pruned copy of a reader's weights: each of the first seven layers keeps `keep` of its channels."""
    out = {k: v.clone() for k, v in state.items()}
    for i in range(len(WIDTHS) - 1):
        conv, bn, nxt = f"features.{i}.0.weight", f"features.{i}.1", f"features.{i + 1}.0.weight"
        n = out[conv].shape[0]
        idx = out[f"{bn}.weight"].abs().argsort(descending=True)[:max(8, round(n * keep))].sort().values
        out[conv] = out[conv][idx]
        for name in ("weight", "bias", "running_mean", "running_var"):
            out[f"{bn}.{name}"] = out[f"{bn}.{name}"][idx]
        out[nxt] = out[nxt][:, idx]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--keep", type=float, default=0.75)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    if not 0 < a.keep <= 1:
        raise SystemExit(f"--keep {a.keep}: a fraction in (0, 1]")
    state = prune(torch.load(a.checkpoint, weights_only=False)["ema"], a.keep)
    model = Reader.with_weights(state)  # checks every shape fits
    torch.save({"ema": model.state_dict(), "step": 0}, a.out)
    widths = [int(state[f"features.{i}.0.weight"].shape[0]) for i in range(len(WIDTHS))]
    print(f"wrote {a.out}: widths {widths}, {sum(v.numel() for v in model.parameters()) / 1e6:.2f} M parameters")


if __name__ == "__main__":
    main()
