"""A generated drive-by: vehicles with known plates passing a fixed camera.

Used by `alpr demo`, the pipeline tests and `alpr bench pipeline`. The schedule mixes
ordinary passes, a fast car, two cars side by side, a parked car and one briefly hidden
behind a passing truck, so a tracker must produce exactly one read per vehicle.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from appliance.synth.plates import render_plate
from appliance.synth.scenes import paste_plate, plate_quad, procedural_background
from appliance.synth.serials import fill


@dataclass(frozen=True)
class Vehicle:
    """One vehicle's pass: when, where, and how its plate moves in the image."""

    text: str
    start: int  # first frame index
    frames: int  # frames in view
    lane_x: float  # centre x as a fraction of the width
    parked: bool = False
    occluded: tuple[int, int] = (0, 0)  # [from, to) frame offsets hidden behind a truck


@dataclass
class DriveBy:
    """The schedule and a renderer of its frames."""

    width: int
    height: int
    vehicles: list[Vehicle]
    seed: int

    @property
    def length(self) -> int:
        return max(v.start + v.frames for v in self.vehicles) + 6

    @property
    def plates(self) -> list[str]:
        return [v.text for v in self.vehicles]

    def frames(self) -> Iterator[np.ndarray]:
        """Render every frame in order (BGR); deterministic for a given seed."""
        rng = random.Random(self.seed)
        background, _ = procedural_background(rng, self.width, self.height, max_cars=0)
        faces = {v.text: render_plate(rng, text=v.text, state="CA").image for v in self.vehicles}
        paint = {v.text: tuple(rng.randint(30, 230) for _ in range(3)) for v in self.vehicles}
        for i in range(self.length):
            frame = background.copy()
            for v in self.vehicles:
                if v.start <= i < v.start + v.frames:
                    self._draw(frame, v, i - v.start, faces[v.text], paint[v.text], rng)
            yield frame

    def _draw(self, frame: np.ndarray, v: Vehicle, k: int, face: np.ndarray, paint, rng: random.Random) -> None:
        t = 0.5 if v.parked else k / max(1, v.frames - 1)
        w, h = self.width, self.height
        plate_w = w * (0.09 + 0.08 * t)  # approaching: the plate grows
        cx, cy = v.lane_x * w, h * (0.45 + 0.4 * t)
        car_w, car_h = plate_w * 4.5, plate_w * 3
        cv2.rectangle(frame, (int(cx - car_w / 2), int(cy - car_h * 0.8)), (int(cx + car_w / 2), int(cy + car_h * 0.2)), paint, -1)
        # crc32, not hash(): str hashes change per process, which made the drive-by differ per run
        quad = plate_quad(random.Random(zlib.crc32(v.text.encode()) & 0xFFFF), cx, cy, plate_w)
        paste_plate(frame, face, quad, random.Random(1))
        if v.occluded[0] <= k < v.occluded[1]:  # a truck passes in front
            cv2.rectangle(frame, (int(cx - car_w * 0.7), int(cy - car_h)), (int(cx + car_w * 0.7), int(cy + car_h * 0.4)), (70, 70, 80), -1)


def standard_driveby(seed: int = 1, width: int = 1280, height: int = 720, count: int = 12) -> DriveBy:
    """`count` vehicles (>= 6): ordinary passes plus fast, side-by-side, parked and occluded ones."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < count:
        t = fill(rng.choice(("#LLL###", "LLL####", "#LLL###")), rng)
        if t[0] == "0":  # California's 7-character serials start with 1-9 (a leading 0 is not issued)
            t = rng.choice("123456789") + t[1:]
        if t not in texts:
            texts.append(t)
    vehicles, start = [], 0
    for i, text in enumerate(texts):
        kind = i % 6
        if kind == 1:  # fast: few frames in view
            vehicles.append(Vehicle(text, start, 5, 0.5))
        elif kind == 2:  # side by side with the next one
            vehicles.append(Vehicle(text, start, 14, 0.28))
            continue_start = start
        elif kind == 3:
            vehicles.append(Vehicle(text, continue_start, 14, 0.72))
        elif kind == 4:  # parked for a while
            vehicles.append(Vehicle(text, start, 40, 0.5, parked=True))
        elif kind == 5:  # hidden for a few frames mid-pass
            vehicles.append(Vehicle(text, start, 16, 0.5, occluded=(6, 9)))
        else:
            vehicles.append(Vehicle(text, start, 14, 0.5))
        start = vehicles[-1].start + vehicles[-1].frames + 12  # a gap so tracks end between vehicles
    return DriveBy(width, height, vehicles, seed)
