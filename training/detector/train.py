"""Train the plate detector on composed and real scenes, resumable.

Usage: python -m training.detector.train [--run .cache/detector-run] [--steps 3000]
Re-running resumes from RUN/last.pt. Log in RUN/train.log; RUN/best.pt keeps the EMA
weights with the best recall (IoU >= 0.3) on the US validation scenes; the US leave-out
scenes (training/splits.py) are never used here.
"""

from __future__ import annotations

import argparse
import copy
import logging
import queue
import random
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from appliance.datasets import read_openalpr_folder
from appliance.recognition.detector import decode, iou, letterbox
from training.detector.data import load_scenes, make_sample, targets
from training.detector.model import Detector
from training.loop import ema_update, lr_at, resume, save_last, setup_logging
from training.splits import BR_SCENES, US_SCENES, scene_split_of

log = logging.getLogger("train-detector")


def focal(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on a Gaussian heatmap."""
    p = pred.clamp(1e-4, 1 - 1e-4)
    pos = gt.eq(1).float()
    pos_loss = (torch.log(p) * (1 - p) ** 2 * pos).sum()
    neg_loss = (torch.log(1 - p) * p ** 2 * (1 - gt) ** 4 * (1 - pos)).sum()
    return -(pos_loss + neg_loss) / pos.sum().clamp(min=1)


def giou_loss(pred_log: torch.Tensor, gt_log: torch.Tensor) -> torch.Tensor:
    """GIoU between boxes given as log edge distances from the same cell centre."""
    p, g = pred_log.clamp(-4, 6).exp(), gt_log.exp()
    pa, ga = (p[:, 0] + p[:, 2]) * (p[:, 1] + p[:, 3]), (g[:, 0] + g[:, 2]) * (g[:, 1] + g[:, 3])
    iw = torch.minimum(p[:, 0], g[:, 0]) + torch.minimum(p[:, 2], g[:, 2])
    ih = torch.minimum(p[:, 1], g[:, 1]) + torch.minimum(p[:, 3], g[:, 3])
    inter = iw * ih
    union = pa + ga - inter
    cw = torch.maximum(p[:, 0], g[:, 0]) + torch.maximum(p[:, 2], g[:, 2])
    ch = torch.maximum(p[:, 1], g[:, 1]) + torch.maximum(p[:, 3], g[:, 3])
    hull = cw * ch
    giou = inter / union - (hull - union) / hull
    return (1 - giou).mean()


def loss_fn(raw: torch.Tensor, heat, box, corner, mask) -> tuple[torch.Tensor, dict]:
    hm = focal(raw[:, :1].sigmoid(), heat)
    m0 = mask[:, 0].bool()
    pb = raw[:, 1:5].permute(0, 2, 3, 1)[m0]
    gb = box.permute(0, 2, 3, 1)[m0]
    lb = (F.l1_loss(pb, gb) + giou_loss(pb, gb)) if len(pb) else raw.sum() * 0
    m1 = mask[:, 1].bool()
    pc = raw[:, 5:].permute(0, 2, 3, 1)[m1]
    gc = corner.permute(0, 2, 3, 1)[m1]
    lc = F.smooth_l1_loss(pc, gc, beta=0.05) if len(pc) else raw.sum() * 0
    return hm + lb + 0.5 * lc, {"heat": hm.item(), "box": float(lb), "corner": float(lc)}


class Batches:
    """Background thread composing training batches."""

    def __init__(self, scenes: list, batch: int, seed: int) -> None:
        self.scenes, self.batch = scenes, batch
        self.rng = random.Random(seed)
        self.q: queue.Queue = queue.Queue(maxsize=4)
        threading.Thread(target=self._fill, daemon=True, name="det-batches").start()

    def _fill(self) -> None:
        while True:
            samples = [make_sample(self.rng, self.scenes) for _ in range(self.batch)]
            ts = [targets(s) for s in samples]
            x = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).float().div_(255)
            self.q.put((x, *(torch.from_numpy(np.stack([t[k] for t in ts])) for k in range(4))))

    def get(self):
        return self.q.get()


def evaluate(model: nn.Module, val: list) -> tuple[float, float]:
    """Recall (IoU >= 0.3) and mean false detections per frame on full validation frames."""
    model.eval()
    found = total = false = 0
    with torch.no_grad():
        for s in val:
            img = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
            x, scale = letterbox(img)
            dets = decode(model(torch.from_numpy(x)).numpy()[0], scale)
            truths = [(bx, by, bx + bw, by + bh) for bx, by, bw, bh in s.boxes]
            total += len(truths)
            found += sum(any(iou(d.box, t) >= 0.3 for d in dets) for t in truths)
            false += sum(all(iou(d.box, t) < 0.3 for t in truths) for d in dets)
    return found / max(1, total), false / max(1, len(val))




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--run", type=Path, default=Path(".cache/detector-run"))
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    setup_logging(a.run)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    us = read_openalpr_folder(US_SCENES)
    train_scenes = [s for s in us if scene_split_of(s.path.name) == "train"] + read_openalpr_folder(BR_SCENES)
    val = [s for s in us if scene_split_of(s.path.name) == "val"]
    log.info("training scenes %d (US train + BR), validation scenes %d", len(train_scenes), len(val))
    model = Detector()
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    step, best, elapsed = resume(a.run, model, ema, opt)
    batches = Batches(load_scenes(train_scenes), a.batch, seed=step)
    t0, parts = time.time(), []
    while step < a.steps:
        model.train()
        x, heat, box, corner, mask = batches.get()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps, a.lr)
        loss, info = loss_fn(model.raw(x), heat, box, corner, mask)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        ema_update(ema, model, step, max_decay=0.998)
        parts.append(info)
        step += 1
        if step % 25 == 0:
            mean = {k: np.mean([p_[k] for p_ in parts]) for k in parts[0]}
            log.info("step %d heat %.3f box %.3f corner %.3f lr %.2e %.1f samples/s", step, mean["heat"], mean["box"],
                     mean["corner"], opt.param_groups[0]["lr"], 25 * a.batch / (time.time() - t0))
            elapsed += time.time() - t0
            t0, parts = time.time(), []
        if step % 200 == 0 or step == a.steps:
            recall, fp = evaluate(ema, val)
            if recall >= best:
                best = recall
                torch.save({"ema": ema.state_dict(), "step": step, "recall": recall}, a.run / "best.pt")
            log.info("step %d val recall %.3f false/frame %.2f (best %.3f), training time %.0f s", step, recall, fp, best, elapsed)
            save_last(a.run, model, ema, opt, step, best, elapsed)
            t0 = time.time()
    log.info("done: %d steps, best val recall %.3f, %.0f s of training", step, best, elapsed)


if __name__ == "__main__":
    main()
