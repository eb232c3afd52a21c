"""Pieces both training loops share: schedule, weight EMA, resumable checkpoints, logging."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch
from torch import nn


def setup_logging(run: Path) -> None:
    """Log to RUN/train.log and the terminal."""
    run.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(run / "train.log"), logging.StreamHandler()])


def lr_at(step: int, total: int, base: float) -> float:
    """5 % linear warm-up, then cosine down to 1e-5."""
    warm = max(1, total // 20)
    if step < warm:
        return base * (step + 1) / warm
    return 1e-5 + (base - 1e-5) * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def ema_update(ema: nn.Module, model: nn.Module, step: int, max_decay: float) -> None:
    """Exponential moving average of the weights (buffers such as BN counts are copied)."""
    decay = min(max_decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for pe, pm in zip(ema.state_dict().values(), model.state_dict().values()):
            if pe.dtype.is_floating_point:
                pe.mul_(decay).add_(pm.detach(), alpha=1 - decay)
            else:
                pe.copy_(pm)


def save_last(run: Path, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, step: int,
              best: float, elapsed: float) -> None:
    """Write RUN/last.pt atomically (a kill mid-save leaves the previous one)."""
    tmp = run / "last.tmp"
    torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                "step": step, "best": best, "elapsed": elapsed}, tmp)
    tmp.rename(run / "last.pt")


def resume(run: Path, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float, float]:
    """Load RUN/last.pt if present; return (step, best score, training seconds so far)."""
    last = run / "last.pt"
    if not last.exists():
        return 0, -1.0, 0.0
    ck = torch.load(last, weights_only=False)
    model.load_state_dict(ck["model"])
    ema.load_state_dict(ck["ema"])
    opt.load_state_dict(ck["opt"])
    logging.getLogger("train").info("resumed at step %d (best %.3f, %.0f s so far)", ck["step"], ck["best"], ck.get("elapsed", 0.0))
    return ck["step"], ck["best"], ck.get("elapsed", 0.0)
