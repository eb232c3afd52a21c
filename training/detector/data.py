"""Detector training samples: 320x320 crops at inference scale, with CenterNet targets.

Each sample starts from a real scene (US train split or Brazilian) or a procedural
street, scaled as the detector sees frames (fit into 640x384) with +-50 % jitter. The
real plate is kept (box label, no corners) or covered by a synthetic plate (corner
label), and extra synthetic plates go elsewhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

from appliance.datasets import LabelledScene
from appliance.synth.scenes import compose, plate_quad
from training.detector.model import STRIDE

CROP = 320
NET_W, NET_H = 640, 384


@dataclass
class Sample:
    image: np.ndarray  # CROP x CROP x 3 BGR uint8
    quads: list[np.ndarray]  # (4,2) corners in crop pixels
    has_corners: list[bool]


def box_quad(box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return np.float32([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def load_scenes(scenes: list[LabelledScene], max_side: int = 1280) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Decode each scene once, capped at max_side, with its plate quads (clipped)."""
    out = []
    for s in scenes:
        img = cv2.imread(str(s.path), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        f = min(1.0, max_side / max(h, w))
        if f < 1:
            img = cv2.resize(img, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA)
        quads = [np.clip(box_quad(b) * f, 0, [img.shape[1] - 1, img.shape[0] - 1]).astype(np.float32) for b in s.boxes]
        out.append((img, quads))
    return out


def make_sample(rng: random.Random, scenes: list) -> Sample:
    """One training crop with its plates."""
    if scenes and rng.random() < 0.75:
        img, quads = rng.choice(scenes)
        h, w = img.shape[:2]
        scale = min(NET_W / w, NET_H / h) * rng.uniform(0.6, 1.6)
        img = cv2.resize(img, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        quads = [q * scale for q in quads]
        cover = rng.random() < 0.5
        spots, kept = [], []
        for q in quads:
            if cover:
                c = q.mean(0)
                spots.append(((q - c) * np.float32([rng.uniform(1.05, 1.2), rng.uniform(1.1, 1.3)]) + c).astype(np.float32))
            else:
                kept.append(q)
        extra = rng.choice((0, 0, 0, 1, 2))
        scene = compose(rng, img, spots=spots, count=len(spots) + extra, width_range=(14, 140), occupied=kept)
        all_quads = kept + scene.corners
        has = [False] * len(kept) + [True] * len(scene.corners)
        image = scene.image
    else:
        from appliance.synth.scenes import procedural_background
        bg, cars = procedural_background(rng, rng.randint(480, 800), rng.randint(300, 480))
        spots = [plate_quad(rng, x + cw / 2, y + ch * 0.8, min(cw * 0.35, rng.uniform(14, 140))) for x, y, cw, ch in cars]
        scene = compose(rng, bg, spots=spots, count=rng.choice((0, 1, 2, 3)), width_range=(14, 140))
        image, all_quads, has = scene.image, scene.corners, [True] * len(scene.corners)
    return _crop(rng, image, all_quads, has)


def _crop(rng: random.Random, image: np.ndarray, quads: list[np.ndarray], has: list[bool]) -> Sample:
    h, w = image.shape[:2]
    if quads and rng.random() < 0.85:
        c = rng.choice(quads).mean(0)
        x0 = int(c[0] - rng.uniform(0.15, 0.85) * CROP)
        y0 = int(c[1] - rng.uniform(0.15, 0.85) * CROP)
    else:
        x0, y0 = rng.randint(min(0, w - CROP), max(0, w - CROP)), rng.randint(min(0, h - CROP), max(0, h - CROP))
    out = np.zeros((CROP, CROP, 3), np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + CROP), min(h, y0 + CROP)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    keep_q, keep_h = [], []
    for q, hc in zip(quads, has):
        q = q - np.float32([x0, y0])
        c = q.mean(0)
        if 0 <= c[0] < CROP and 0 <= c[1] < CROP:
            keep_q.append(q)
            keep_h.append(hc)
    if rng.random() < 0.5:  # mirror: plates' outlines are symmetric; text is not read here
        out = out[:, ::-1].copy()
        keep_q = [np.float32([[CROP - p[0], p[1]] for p in q[[1, 0, 3, 2]]]) for q in keep_q]
    return Sample(out, keep_q, keep_h)


def targets(sample: Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Heatmap (1,G,G), box targets (4,G,G), corner targets (8,G,G), masks (2,G,G)."""
    g = CROP // STRIDE
    heat = np.zeros((1, g, g), np.float32)
    box = np.zeros((4, g, g), np.float32)
    corner = np.zeros((8, g, g), np.float32)
    mask = np.zeros((2, g, g), np.float32)
    ys, xs = np.mgrid[0:g, 0:g].astype(np.float32)
    cx_cells, cy_cells = (xs + 0.5) * STRIDE, (ys + 0.5) * STRIDE
    for q, has in sorted(zip(sample.quads, sample.has_corners), key=lambda t: -(np.ptp(t[0][:, 0]) * np.ptp(t[0][:, 1]))):
        x0, y0 = q.min(0)
        x1, y1 = q.max(0)
        bw, bh = max(x1 - x0, 2.0), max(y1 - y0, 2.0)
        c = np.float32([(x0 + x1) / 2, (y0 + y1) / 2]) / STRIDE
        sx, sy = max(0.6, bw / STRIDE / 6), max(0.6, bh / STRIDE / 6)
        gauss = np.exp(-((xs + 0.5 - c[0]) ** 2 / (2 * sx * sx) + (ys + 0.5 - c[1]) ** 2 / (2 * sy * sy)))
        ci, cj = int(np.clip(c[1], 0, g - 1)), int(np.clip(c[0], 0, g - 1))
        gauss[ci, cj] = 1.0
        heat[0] = np.maximum(heat[0], gauss)
        pos = (gauss > 0.5) & (cx_cells > x0) & (cx_cells < x1) & (cy_cells > y0) & (cy_cells < y1)
        pos[ci, cj] = True
        d = np.stack([cx_cells - x0, cy_cells - y0, x1 - cx_cells, y1 - cy_cells])
        box[:, pos] = np.log(np.maximum(d[:, pos], 0.5) / STRIDE)
        mask[0][pos] = 1.0
        if has:
            for k in range(4):
                corner[2 * k][pos] = (q[k, 0] - cx_cells[pos]) / bw
                corner[2 * k + 1][pos] = (q[k, 1] - cy_cells[pos]) / bh
            mask[1][pos] = 1.0
    return heat, box, corner, mask
