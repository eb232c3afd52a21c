"""Train the reader: synthetic chunks plus augmented real crops, resumable.

Usage: python -m training.reader.train [--run .cache/reader-run] [--steps 6000]
Re-running the same command resumes from the run folder's last checkpoint. The log
goes to RUN/train.log; RUN/best.pt holds the EMA weights with the best exact-match
accuracy on the real validation split (never the leave-out split).
"""

from __future__ import annotations

import argparse
import copy
import glob
import logging
import queue
import random
import threading
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from torch import nn

from appliance.recognition.reader import ALPHABET, INPUT_H, INPUT_W, decode
from appliance.recognition.plate_format import vanity_zeros
from appliance.synth.degrade import degrade, training_sample
from training.reader.glyph_shuffle import align, mixed, shuffled
from training.reader.model import Reader
from training.loop import ema_update, lr_at, resume, save_last, setup_logging
from training.splits import crops_in

log = logging.getLogger("train")
CHAR_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}


def load_real(split: str, with_cuts: bool) -> tuple[list[tuple[np.ndarray, str, bool]], list[str]]:
    """Real crops of a split as RGB arrays with labels and whether each is an engine cut,
    and each one's face group (the state of a tight crop, "" for a cut).

    Tight crops get a detector-like re-crop when augmented; engine cuts of the split's
    scenes (training/reader/scene_cuts.py) already are detector cuts and are only degraded.
    """
    out, groups = [], []
    for c in crops_in(split):
        img = cv2.imread(str(c.path), cv2.IMREAD_COLOR)
        out.append((cv2.cvtColor(img, cv2.COLOR_BGR2RGB), c.plate, False))
        groups.append(c.state)
    if with_cuts:
        from training.reader.scene_cuts import scene_cuts
        cuts = scene_cuts(split)
        out.extend((img, plate, True) for img, plate in cuts)
        groups.extend([""] * len(cuts))
    return out, groups


def as_input(img: np.ndarray) -> np.ndarray:
    """Plain resize to the reader's input, as at inference."""
    return cv2.resize(img, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA)


class Batches:
    """Background thread producing (images, labels) batches: synthetic + augmented real."""

    def __init__(self, synth_dir: Path, real: list, batch: int, real_frac, seed: int,
                 glyphs: list | None = None, shuffle: float = 0.0, mix: float = 0.0) -> None:
        self.files = sorted(glob.glob(str(synth_dir / "synth-*.npz")))
        if not self.files:
            raise SystemExit(f"no synthetic chunks in {synth_dir}: run python -m training.reader.render first")
        data = [np.load(f) for f in self.files]
        self.images = np.concatenate([d["images"] for d in data])
        self.labels = np.concatenate([d["labels"] for d in data])
        log.info("synthetic samples: %d from %d chunks; real train crops: %d", len(self.images), len(self.files), len(real))
        self.real, self.batch, self.real_frac = real, batch, real_frac
        self.glyphs, self.shuffle, self.mix = glyphs or [], shuffle, mix
        self.faces: dict[str, list] = {}
        for g in self.glyphs:
            if g.group:
                self.faces.setdefault(g.group, []).append(g)
        self.rng = random.Random(seed)
        self.q: queue.Queue = queue.Queue(maxsize=6)
        self.step = 0
        threading.Thread(target=self._fill, daemon=True, name="batches").start()

    def _make(self) -> tuple[np.ndarray, list[str]]:
        n_real = int(round(self.batch * self.real_frac(self.step))) if self.real else 0
        idx = np.random.default_rng(self.rng.getrandbits(32)).integers(0, len(self.images), self.batch - n_real)
        imgs = [self.images[i] for i in idx]
        # Synthetic labels follow the real records' spelling: a vanity plate's O is 0.
        labels = [vanity_zeros(str(self.labels[i])) for i in idx]
        for _ in range(n_real):
            img, text, cut = self._real()
            imgs.append(as_input(degrade(img, self.rng)) if cut else training_sample(img, self.rng, INPUT_W, INPUT_H))
            labels.append(text)
        return np.stack(imgs), labels

    def _real(self) -> tuple[np.ndarray, str, bool]:
        """A real crop, or (at --shuffle) one with its glyphs reordered, some (at --mix) from
        other crops of its state."""
        if self.glyphs and self.rng.random() < self.shuffle:
            g = self.rng.choice(self.glyphs)
            if g.group and self.rng.random() < self.mix:
                g = mixed(g, self.faces[g.group], self.rng)
            img, text = shuffled(g, self.rng)
            return img, text, g.cut
        return self.rng.choice(self.real)

    def _fill(self) -> None:
        while True:
            self.q.put(self._make())
            self.step += 1

    def get(self) -> tuple[torch.Tensor, list[str]]:
        imgs, labels = self.q.get()
        return to_tensor(imgs), labels


def to_tensor(imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255.0)


def probabilities(model: nn.Module) -> Callable[[list[np.ndarray]], np.ndarray]:
    """The model as a function of RGB crops to (N,T,C) probabilities, preprocessed as the device does."""
    def run(imgs: list[np.ndarray]) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return model(to_tensor(np.stack([as_input(i) for i in imgs]))).numpy()
    return run


def evaluate(model: nn.Module, real: list) -> float:
    """Exact-match accuracy on real crops, preprocessed and decoded as the device does."""
    pred = [decode(p).text for p in probabilities(model)([img for img, _, _ in real])]
    return sum(p == t for p, (_, t, _) in zip(pred, real)) / max(1, len(real))




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--synth", type=Path, default=Path(".cache/reader"))
    p.add_argument("--run", type=Path, default=Path(".cache/reader-run"))
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--real-frac", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--scene-cuts", action="store_true",
                   help="also train (and validate) on the engine's cuts of the US training (validation) scenes")
    p.add_argument("--br-cuts", action="store_true",
                   help="also train on the engine's cuts of the Brazilian scenes (114 real plates)")
    p.add_argument("--with-val", action="store_true",
                   help="final fit: also train on the validation split; its score is then a training "
                        "score, so no best.pt is kept: export last.pt")
    p.add_argument("--shuffle", type=float, default=0.0,
                   help="fraction of real samples whose glyphs are reordered (training/reader/glyph_shuffle.py)")
    p.add_argument("--mix", type=float, default=0.0,
                   help="--shuffle: fraction of shuffled tight crops that first take some glyphs from other "
                        "crops of their state (glyph_shuffle.mixed)")
    p.add_argument("--align", type=Path,
                   help="--shuffle: find the glyphs with this checkpoint's weights (default: the weights the "
                        "run starts or resumes from; give the unpruned ones when fine-tuning a pruned reader)")
    p.add_argument("--init", type=Path, help="fine-tune: start from this checkpoint's EMA weights (a new run folder)")
    a = p.parse_args()
    setup_logging(a.run)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if not 0.0 <= a.shuffle <= 1.0 or not 0.0 <= a.mix <= 1.0:
        raise SystemExit(f"--shuffle {a.shuffle}, --mix {a.mix}: fractions, 0 to 1")
    if a.mix and not a.shuffle:
        raise SystemExit("--mix works on the glyphs --shuffle finds: give --shuffle too")
    model = Reader.with_weights(torch.load(a.init, weights_only=False)["ema"]) if a.init else Reader()
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-3)
    step, best, elapsed = resume(a.run, model, ema, opt)
    (real_train, groups), (real_val, val_groups) = load_real("train", a.scene_cuts), load_real("val", a.scene_cuts)
    if a.with_val:
        real_train, groups = real_train + real_val, groups + val_groups
    if a.br_cuts:
        from training.reader.scene_cuts import br_scene_cuts
        br = [(img, plate, True) for img, plate in br_scene_cuts()]
        real_train, groups = real_train + br, groups + [""] * len(br)
    log.info("real: %d training, %d validation crops (engine cuts of scenes: %s)", len(real_train), len(real_val), a.scene_cuts)
    # Synthetic only for the first 10 % of steps (unless fine-tuning), then real crops
    # at --real-frac of every batch.
    start, warm = step, 0 if a.init else a.steps // 10
    glyphs = []
    if a.shuffle:
        aligner = Reader.with_weights(torch.load(a.align, weights_only=False)["ema"]) if a.align else ema
        glyphs = align(real_train, probabilities(aligner), groups)
        if not glyphs:
            raise SystemExit("--shuffle: the aligning weights read none of the real crops exactly; give --align")
        log.info("glyph shuffle: %d of %d real crops aligned, %.0f %% of real samples shuffled, "
                 "%.0f %% of those from a state's tight crops mixed", len(glyphs), len(real_train),
                 100 * a.shuffle, 100 * a.mix)
    batches = Batches(a.synth, real_train, a.batch, lambda s: 0.0 if s + start < warm else a.real_frac,
                      seed=step + 7, glyphs=glyphs, shuffle=a.shuffle, mix=a.mix)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    t0, losses = time.time(), []
    while step < a.steps:
        model.train()
        x, labels = batches.get()
        targets = torch.tensor([CHAR_INDEX[c] for t in labels for c in t], dtype=torch.long)
        lengths = torch.tensor([len(t) for t in labels], dtype=torch.long)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps, a.lr)
        logp = model.logits(x).log_softmax(-1).transpose(0, 1)  # T,N,C
        loss = ctc(logp, targets, torch.full((len(labels),), logp.shape[0], dtype=torch.long), lengths)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema_update(ema, model, step, max_decay=0.999)
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            log.info("step %d loss %.4f lr %.2e %.1f samples/s", step, np.mean(losses), opt.param_groups[0]["lr"],
                     50 * a.batch / (time.time() - t0))
            elapsed += time.time() - t0
            t0, losses = time.time(), []
        if step % 250 == 0 or step == a.steps:
            acc = evaluate(ema, real_val)
            if acc > best and not a.with_val:
                best = acc
                torch.save({"ema": ema.state_dict(), "step": step, "val": acc}, a.run / "best.pt")
            log.info("step %d val exact %.3f%s (best %.3f) training time %.0f s", step, acc,
                     " (seen in training)" if a.with_val else "", best, elapsed)
            save_last(a.run, model, ema, opt, step, best, elapsed)
            t0 = time.time()
    log.info("done: %d steps, best val exact %.3f, %.0f s of training", step, best, elapsed)


if __name__ == "__main__":
    main()
