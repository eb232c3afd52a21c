"""Camera-like degradations for plate images (synthetic faces and real crops alike).

A reader trained on perfect tight crops fails on a detector's crops, so every sample is
re-cropped the way a detector would cut it (loose or tight, tilted, skewed) and then
blurred, shrunk, lit and compressed the way a roadside camera does it, by day or under
infrared at night.
"""

from __future__ import annotations

import random

import cv2
import numpy as np


def _surround(rng: random.Random, h: int, w: int, edges: bool = False) -> np.ndarray:
    """What lies around a plate in a crop: car paint, bumper, shadow.

    `edges` adds the straight edges a loose cut shows beside a plate (bumper recess, lamp
    housings, body seams): vertical ones are what a reader mistakes for an extra 1 or L.
    """
    base = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    if rng.random() < 0.5:
        base *= rng.uniform(0.1, 0.5)
    img = np.ones((h, w, 3), np.float32) * base
    grad = np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.4), h, dtype=np.float32)[:, None, None]
    img = img * grad + np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(2, 12), (h, w, 3))
    if edges:
        for _ in range(rng.randint(1, 4)):
            tone = rng.uniform(0, 255)
            if rng.random() < 0.7:
                x = rng.randint(0, w - 1)
                img[:, x:x + rng.randint(2, max(3, w // 25))] = tone
            else:
                y = rng.randint(0, h - 1)
                img[y:y + rng.randint(2, max(3, h // 12))] = tone
    return np.clip(img, 0, 255).astype(np.uint8)


def in_holder(plate: np.ndarray, rng: random.Random) -> np.ndarray:
    """The plate in its holder: a plastic or chrome frame around all four sides.

    Loose engine cuts show the holder's side bars right beside the first and last
    characters; a reader that never saw them reads them as 1, I or L (US training scenes:
    "7CID930L", "LJ868321", "YBW231").
    """
    h, w = plate.shape[:2]
    side = max(2, int(w * rng.uniform(0.012, 0.06)))
    top, bottom = max(2, int(h * rng.uniform(0.03, 0.12))), max(2, int(h * rng.uniform(0.04, 0.2)))
    color = tuple(float(v) for v in (_tone(rng, 0, 60) if rng.random() < 0.65 else _tone(rng, 140, 235)))
    out = cv2.copyMakeBorder(plate, top, bottom, side, side, cv2.BORDER_CONSTANT, value=color)
    if rng.random() < 0.5:  # a bevel catching the light along the inner edge
        bevel = tuple(float(min(255, c + rng.uniform(40, 120))) for c in color)
        cv2.rectangle(out, (side - 1, top - 1), (side + w, top + h), bevel, rng.randint(1, 2))
    return out


def _tone(rng: random.Random, lo: int, hi: int) -> tuple[int, int, int]:
    v = rng.randint(lo, hi)
    return (v, v, min(255, v + rng.randint(0, 10)))


def detector_like_crop(plate: np.ndarray, rng: random.Random, out_w: int, out_h: int,
                       max_margin: float = 0.16, busy_surround: bool = False) -> np.ndarray:
    """Warp a plate face into an out_w x out_h crop with detector-like jitter.

    Side margins vary from cut-off (-5 %) to loose (`max_margin`, 16 % by default), top and
    bottom from -6 % to +20 %, corners move by up to 7 % and the plate rotates by up to 8
    degrees: roughly IoU 0.6-1 against the true box.
    """
    h, w = plate.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    ml, mr = (rng.uniform(-0.05, max_margin) * out_w for _ in range(2))
    mt, mb = (rng.uniform(-0.06, 0.2) * out_h for _ in range(2))
    dst = np.float32([[ml, mt], [out_w - mr, mt], [out_w - mr, out_h - mb], [ml, out_h - mb]])
    dst += np.float32([[rng.uniform(-0.05, 0.05) * out_w, rng.uniform(-0.05, 0.05) * out_h] for _ in range(4)])
    angle = np.deg2rad(rng.uniform(-8, 8))
    c = dst.mean(axis=0)
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - c) @ rot.T + c
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out = _surround(rng, out_h, out_w, busy_surround)
    return cv2.warpPerspective(plate, m, (out_w, out_h), dst=out, flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_TRANSPARENT)


def _motion_blur(img: np.ndarray, rng: random.Random) -> np.ndarray:
    k = rng.randint(3, 9)
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(-30, 30), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (k, k))
    return cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))


def _light(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Gamma, contrast, a shadow edge and a glare spot."""
    f = img.astype(np.float32) / 255.0
    f = f ** rng.uniform(0.6, 1.6)
    f = f * rng.uniform(0.6, 1.2) + rng.uniform(-0.1, 0.15)
    h, w = f.shape[:2]
    if rng.random() < 0.25:  # shadow across part of the plate
        x0, x1 = rng.uniform(-0.5, 1.5) * w, rng.uniform(-0.5, 1.5) * w
        yy, xx = np.mgrid[0:h, 0:w]
        side = (xx - x0) * h - (x1 - x0) * yy > 0
        f[side] *= rng.uniform(0.35, 0.75)
    if rng.random() < 0.15:  # glare
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.5) * w
        f += (np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) * rng.uniform(0.2, 0.6))[..., None]
    if rng.random() < 0.2:  # colour cast
        f *= np.float32([rng.uniform(0.8, 1.2) for _ in range(3)])
    return np.clip(f * 255, 0, 255).astype(np.uint8)


def _dirt(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Mud specks and a grimy film: dark blotches of random size, softened."""
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.float32)
    for _ in range(rng.randint(3, 30)):
        cv2.circle(mask, (rng.randrange(w), rng.randrange(h)), rng.randint(1, max(2, w // 25)), rng.uniform(0.2, 0.8), -1)
    mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(0.5, 2.0))[..., None]
    grime = np.float32([rng.randint(40, 90), rng.randint(40, 80), rng.randint(30, 60)])
    return (img * (1 - mask) + grime * mask).astype(np.uint8)


def _infrared(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Night IR look: grey, retro-reflective plate bright, bloom and sensor noise."""
    g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    g = np.clip((g - g.mean()) * rng.uniform(1.0, 1.8) + rng.uniform(110, 190), 0, 255)
    bloom = cv2.GaussianBlur(np.where(g > 200, g, 0), (0, 0), rng.uniform(1, 3))
    g = np.clip(g + bloom * rng.uniform(0.1, 0.5), 0, 255)
    return cv2.cvtColor(g.astype(np.uint8), cv2.COLOR_GRAY2RGB)


def degrade(img: np.ndarray, rng: random.Random) -> np.ndarray:
    """Apply a random chain of camera effects to an RGB uint8 crop (size kept)."""
    h, w = img.shape[:2]
    if rng.random() < 0.6:  # low resolution: plates down to ~40 px wide
        sw = rng.randint(40, 140)
        sh = max(8, int(round(sw * h / w)))
        img = cv2.resize(cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA), (w, h),
                         interpolation=rng.choice((cv2.INTER_LINEAR, cv2.INTER_CUBIC)))
    img = _light(img, rng)
    if rng.random() < 0.15:
        img = _dirt(img, rng)
    if rng.random() < 0.1:
        img = _infrared(img, rng)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.5))
    if rng.random() < 0.2:
        img = _motion_blur(img, rng)
    if rng.random() < 0.5:
        noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(2, 10), img.shape)
        img = np.clip(img + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(30, 90)])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


def training_sample(plate: np.ndarray, rng: random.Random, out_w: int, out_h: int) -> np.ndarray:
    """A reader training sample: detector-like crop of `plate`, then degraded.

    Half the plates sit in a holder and half the surrounds have straight edges; a third
    of the cuts are as loose as the engine's widened cuts (up to 30 % per side).
    """
    work_w, work_h = out_w * 2, out_h * 2
    if rng.random() < 0.5:
        plate = in_holder(plate, rng)
    loose = rng.random() < 0.33
    crop = detector_like_crop(plate, rng, work_w, work_h, 0.3 if loose else 0.16, busy_surround=rng.random() < 0.5)
    crop = degrade(crop, rng)
    return cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA)
