"""What sits on a US plate next to the serial but is not part of it: emblems and stickers.

The reader's worst leave-out errors are extra characters read from these (a cactus read
as M, a whale as X, a university logo as UF, a "10" sticker as H), so the synthetic plates
draw many kinds of them right beside and between the serial's characters. None of them
ever enters a plate's label.
"""

from __future__ import annotations

import math
import random

from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont

from appliance.synth.serials import DIGITS, LETTERS

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
Color = tuple[int, int, int]
FontAt = Callable[[int], ImageFont.FreeTypeFont]  # a font at a pixel size (cached by the caller)


def random_rgb(rng: random.Random, lo: int, hi: int) -> Color:
    """A random colour, each channel from lo to hi (plates and their ornaments)."""
    return tuple(rng.randint(lo, hi) for _ in range(3))  # type: ignore[return-value]


def _blob(rng: random.Random, cx: float, cy: float, rx: float, ry: float, n: int) -> list[tuple[float, float]]:
    """An irregular closed outline (state shapes, animals, cacti at reader resolution)."""
    pts = []
    for k in range(n):
        a = 2 * math.pi * k / n
        r = rng.uniform(0.45, 1.0)
        pts.append((cx + rx * r * math.cos(a), cy + ry * r * math.sin(a)))
    return pts


def draw_emblem(img: Image.Image, box: tuple[float, float, float, float], color: Color,
                rng: random.Random, font: FontAt) -> None:
    """Draw one random emblem filling roughly `box` (x0, y0, x1, y1).

    Kinds: dot, star, heart, state-outline blob, silhouette (tall blob with limbs),
    wheelchair-like pictogram, and a small logo of 1-4 letters (which must be ignored).
    """
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = box
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    kind = rng.choice(("dot", "star", "heart", "blob", "silhouette", "pictogram", "logo", "logo"))
    if kind == "dot":
        r = min(rx, ry) * rng.uniform(0.3, 0.8)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
    elif kind == "star":
        pts = [(cx + (rx if k % 2 == 0 else rx * 0.4) * math.cos(math.pi * k / 5 - math.pi / 2),
                cy + (ry if k % 2 == 0 else ry * 0.4) * math.sin(math.pi * k / 5 - math.pi / 2)) for k in range(10)]
        draw.polygon(pts, fill=color)
    elif kind == "heart":
        r = min(rx, ry) * 0.5
        draw.ellipse([cx - 2 * r, cy - r, cx, cy + r], fill=color)
        draw.ellipse([cx, cy - r, cx + 2 * r, cy + r], fill=color)
        draw.polygon([(cx - 2 * r, cy + r * 0.1), (cx + 2 * r, cy + r * 0.1), (cx, cy + 2.2 * r)], fill=color)
    elif kind == "blob":
        draw.polygon(_blob(rng, cx, cy, rx, ry, rng.randint(6, 14)), fill=color)
    elif kind == "silhouette":
        draw.polygon(_blob(rng, cx, cy, rx * 0.6, ry, rng.randint(5, 9)), fill=color)
        for _ in range(rng.randint(1, 4)):  # limbs, tails, arms of a cactus
            ax, ay = cx + rng.uniform(-rx, rx), cy + rng.uniform(-ry, ry)
            draw.line([(cx, cy), (ax, ay)], fill=color, width=max(2, int(rx * rng.uniform(0.1, 0.3))))
    elif kind == "pictogram":
        r = min(rx, ry) * 0.45
        w = max(2, int(r * 0.35))
        draw.ellipse([cx - r, cy, cx + r, cy + 2 * r * 0.9], outline=color, width=w)
        draw.line([(cx - r * 0.2, cy - ry * 0.6), (cx - r * 0.2, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=color, width=w)
        draw.ellipse([cx - r * 0.45, cy - ry, cx + r * 0.05, cy - ry + r * 0.5], fill=color)
    else:
        text = "".join(rng.choice(LETTERS) for _ in range(rng.randint(1, 4)))
        size = max(6, int(ry * 2 * rng.uniform(0.3, 0.6)))
        f = font(size)
        if rng.random() < 0.5:
            draw.polygon(_blob(rng, cx, cy, rx, ry, 8), outline=color, width=2)
        draw.text((cx - f.getlength(text) / 2, cy - size / 2), text, font=f, fill=color)


def _sticker_lines(rng: random.Random) -> list[str]:
    """What a registration, county or inspection sticker says: months, years, numbers."""
    r = rng.random()
    if r < 0.3:
        return [rng.choice(MONTHS)]
    if r < 0.55:
        return [f"{rng.randint(0, 99):02d}"]
    if r < 0.75:
        return [rng.choice(MONTHS), rng.choice((f"{rng.randint(0, 99):02d}", str(rng.randint(1995, 2030))))]
    if r < 0.9:
        return [rng.choice(("", "VA ", "NC ", "MN ")) + "".join(rng.choice(DIGITS) for _ in range(7)),
                f"{rng.randint(0, 99):02d}"]
    return [f"{rng.randint(1, 12)}-{rng.randint(0, 99):02d}"]


def draw_sticker(img: Image.Image, rng: random.Random, font: FontAt,
                 band: tuple[int, int]) -> None:
    """One sticker at a corner or beside the serial band (`band` = its top and bottom y)."""
    W, H = img.size
    draw = ImageDraw.Draw(img)
    lines = _sticker_lines(rng)
    sh = rng.randint(26, 48) if len(lines) == 1 else rng.randint(40, 64)
    sw = rng.randint(int(sh * 0.9), int(sh * 1.8))
    side = rng.choice(("left", "right"))
    x = rng.randint(4, 26) if side == "left" else W - sw - rng.randint(4, 26)
    where = rng.random()
    if where < 0.4:  # top corner
        y = rng.randint(2, 24)
    elif where < 0.75:  # bottom corner
        y = H - sh - rng.randint(2, 24)
    else:  # beside the serial, at its height
        y = rng.randint(band[0], max(band[0], band[1] - sh))
    bg = random_rgb(rng, 0, 255)
    ink = (255 - bg[0], 255 - bg[1], 255 - bg[2]) if rng.random() < 0.7 else random_rgb(rng, 0, 255)
    draw.rectangle([x, y, x + sw, y + sh], fill=bg, outline=random_rgb(rng, 0, 255) if rng.random() < 0.3 else None)
    size = max(8, (sh - 6) // len(lines))
    for i, line in enumerate(lines):
        f = font(size if len(line) <= 3 else max(7, min(size, int(sw / max(1, len(line)) * 1.6))))
        draw.text((x + 3, y + 2 + i * size), line, font=f, fill=ink)
