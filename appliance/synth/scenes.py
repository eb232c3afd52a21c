"""Scene compositor: synthetic plates placed in full camera frames, with corner labels.

Plates are warped onto a background (a real photo, or a procedural street of boxy cars
when none is given) at realistic places: where a real plate already is (covering it),
or low on a car body. Scale (50-400 px wide), angle, light, night IR look, motion blur
and partial occlusion vary; overlay timestamps and sign text are added as negatives.
Labels are the four corners of each plate (clockwise from top-left, frame pixels).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageDraw

from appliance.synth.degrade import _infrared, _motion_blur
from appliance.synth.plates import DECOR_FONTS, _font, render_plate


@dataclass
class Scene:
    """A composed BGR frame with the corners and text of every plate in it."""

    image: np.ndarray
    corners: list[np.ndarray] = field(default_factory=list)  # each (4,2) float32
    texts: list[str] = field(default_factory=list)


def procedural_background(rng: random.Random, w: int = 1280, h: int = 720,
                          max_cars: int = 3) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A plausible street: sky, road, and boxy cars; returns BGR and car boxes."""
    img = Image.new("RGB", (w, h), tuple(rng.randint(60, 200) for _ in range(3)))
    d = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.25, 0.45))
    d.rectangle([0, horizon, w, h], fill=tuple(rng.randint(50, 120) for _ in range(3)))
    for _ in range(rng.randint(2, 8)):  # buildings, poles, signs
        x, bw = rng.randint(0, w), rng.randint(20, 300)
        d.rectangle([x, rng.randint(0, horizon), x + bw, horizon], fill=tuple(rng.randint(30, 220) for _ in range(3)))
    cars = []
    for _ in range(rng.randint(min(1, max_cars), max_cars)):
        cw = rng.randint(w // 6, w // 2)
        ch = int(cw * rng.uniform(0.55, 0.8))
        x, y = rng.randint(-cw // 4, w - cw * 3 // 4), rng.randint(horizon - ch // 3, h - ch // 2)
        paint = tuple(rng.randint(0, 255) for _ in range(3))
        d.rounded_rectangle([x, y, x + cw, y + ch], radius=cw // 10, fill=paint)
        d.rectangle([x + cw // 8, y + ch // 10, x + cw * 7 // 8, y + ch * 4 // 10], fill=tuple(rng.randint(10, 60) for _ in range(3)))
        for lx in (x + cw // 12, x + cw * 9 // 12):  # lights
            d.ellipse([lx, y + ch // 2, lx + cw // 7, y + ch // 2 + ch // 8], fill=(rng.randint(150, 255), 40, 40))
        cars.append((x, y, cw, ch))
    arr = np.asarray(img)[..., ::-1].copy()
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, 4, arr.shape)
    return np.clip(arr + noise, 0, 255).astype(np.uint8), cars


def plate_quad(rng: random.Random, cx: float, cy: float, width: float) -> np.ndarray:
    """Corners of a plate centred at (cx, cy): 2:1 aspect, tilt and perspective varied."""
    h = width / rng.uniform(1.8, 2.2)
    q = np.float32([[-width / 2, -h / 2], [width / 2, -h / 2], [width / 2, h / 2], [-width / 2, h / 2]])
    q += np.float32([[rng.uniform(-0.06, 0.06) * width, rng.uniform(-0.08, 0.08) * h] for _ in range(4)])
    a = np.deg2rad(rng.uniform(-10, 10))
    rot = np.float32([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (q @ rot.T + np.float32([cx, cy])).astype(np.float32)


def paste_plate(frame: np.ndarray, plate_rgb: np.ndarray, quad: np.ndarray, rng: random.Random) -> None:
    """Warp a plate face onto the frame (BGR, in place), lit to match its surroundings."""
    ph, pw = plate_rgb.shape[:2]
    h, w = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(quad.min(0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(quad.max(0)).astype(int) + 1, [w, h])
    if x1 <= x0 or y1 <= y0:
        return
    src = np.float32([[0, 0], [pw, 0], [pw, ph], [0, ph]])
    m = cv2.getPerspectiveTransform(src, (quad - np.float32([x0, y0])).astype(np.float32))
    face = cv2.cvtColor(plate_rgb, cv2.COLOR_RGB2BGR).astype(np.float32) * rng.uniform(0.45, 1.05)
    size = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpPerspective(face, m, size, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), m, size, flags=cv2.INTER_LINEAR)[..., None]
    roi = frame[y0:y1, x0:x1]
    roi[:] = np.clip(roi * (1 - mask) + warped * mask, 0, 255).astype(np.uint8)


def add_distractors(frame: np.ndarray, rng: random.Random) -> None:
    """Text that is not a plate: camera timestamps, sign and shop lettering."""
    img = Image.fromarray(frame[..., ::-1])
    d = ImageDraw.Draw(img)
    h, w = frame.shape[:2]
    if rng.random() < 0.5:
        stamp = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} CAM{rng.randint(1, 9)}"
        size = max(12, h // rng.randint(25, 45))
        d.text((rng.randint(5, w // 3), rng.choice((5, h - size - 8))), stamp, font=_font("DejaVuSansCondensed-Bold.ttf", size), fill=(255, 255, 255))
    for _ in range(rng.randint(0, 2)):
        word = rng.choice(("STOP", "ONE WAY", "SPEED LIMIT 35", "PIZZA", "MAIN ST", "NO PARKING", "EXIT 12", "SALE 50%"))
        size = rng.randint(14, 60)
        x, y = rng.randint(0, max(1, w - size * 4)), rng.randint(0, max(1, h - size))
        d.text((x, y), word, font=_font(rng.choice(DECOR_FONTS), size), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    frame[:] = np.asarray(img)[..., ::-1]


def finish(frame: np.ndarray, rng: random.Random) -> np.ndarray:
    """Whole-frame camera effects: exposure, night IR, motion blur, noise, JPEG."""
    f = frame.astype(np.float32) * rng.uniform(0.6, 1.3) + rng.uniform(-25, 20)
    frame = np.clip(f, 0, 255).astype(np.uint8)
    if rng.random() < 0.12:
        frame = _infrared(frame, rng)
    if rng.random() < 0.15:
        frame = _motion_blur(frame, rng)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(40, 95)])
        frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return frame


def compose(rng: random.Random, background: np.ndarray | None = None,
            spots: list[np.ndarray] | None = None, count: int | None = None,
            width_range: tuple[int, int] = (50, 400), texts: list[str] | None = None,
            occupied: list[np.ndarray] | None = None) -> Scene:
    """Compose a frame with `count` synthetic plates (random 0-3 when None).

    `spots` are corner quads of real plates in `background`; synthetic plates cover
    them first (realistic place and light), then go low on cars or anywhere plausible.
    `occupied` are quads of real plates left visible: nothing is pasted over them.
    """
    if background is None:
        background, cars = procedural_background(rng)
        spots = [plate_quad(rng, x + cw / 2, y + ch * 0.8, min(cw * 0.3, rng.uniform(*width_range)))
                 for x, y, cw, ch in cars]
    frame = background.copy()
    h, w = frame.shape[:2]
    n = rng.choice((0, 1, 1, 1, 2, 3)) if count is None else count
    quads = list(spots or [])
    rng.shuffle(quads)
    tries = 0
    while len(quads) < n + 4 and tries < 20:  # a few spares in case some overlap
        tries += 1
        width = min(rng.uniform(*width_range), w * 0.8)
        quads.append(plate_quad(rng, rng.uniform(width / 2, w - width / 2), rng.uniform(h * 0.3, h - width / 3), width))
    scene = Scene(frame)
    taken = list(occupied or [])
    for quad in quads:
        if len(scene.corners) >= n:
            break
        if any(_overlaps(quad, q) for q in scene.corners + taken):
            continue
        k = len(scene.corners)
        plate = render_plate(rng, text=texts[k] if texts and k < len(texts) else None)
        paste_plate(frame, plate.image, quad, rng)
        scene.corners.append(quad)
        scene.texts.append(plate.text)
    if rng.random() < 0.6:
        add_distractors(frame, rng)
    scene.image = finish(frame, rng)
    return scene


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    ax0, ay0 = a.min(0)
    ax1, ay1 = a.max(0)
    bx0, by0 = b.min(0)
    bx1, by1 = b.max(0)
    return not (ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0)


def box_of(quad: np.ndarray) -> tuple[int, int, int, int]:
    """Axis-aligned integer box (x, y, w, h) around a quad."""
    x0, y0 = np.floor(quad.min(0)).astype(int)
    x1, y1 = np.ceil(quad.max(0)).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)
