"""Procedural US licence plates with known text.

No permissive US plate templates exist offline, so plates are built from parts: a pale
or gradient background with scenery shapes, the state name above, a slogan below, the
serial in one of several plate-like fonts, stickers, bolt holes, stacked small
characters, emblems and dealer frames. Every font used is listed in docs/provenance.md.

Labels follow the real data's convention: the serial only. Stacked small characters,
emblems and sticker text are drawn but never labelled, so the reader learns to skip them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from appliance.synth.ornaments import random_rgb, draw_emblem, draw_sticker
from appliance.synth.serials import DIGITS, LETTERS, label_of, random_serial

FONT_DIR = Path(__file__).parent / "fonts"
SERIAL_FONTS = (
    "OSP-DIN.ttf", "BebasNeue-Regular.otf", "BebasNeue-Bold.otf",
    "RobotoCondensed-Regular.ttf", "RobotoCondensed-Bold.ttf",
    "LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf",
    "PTN57F.ttf", "PTN77F.ttf", "NimbusSansNarrow-Regular.otf", "NimbusSansNarrow-Bold.otf",
    "texgyreheroscn-bold.otf", "DejaVuSansCondensed-Bold.ttf",
)
DECOR_FONTS = SERIAL_FONTS + ("DejaVuSerifCondensed-Bold.ttf", "DejaVuSerifCondensed-Italic.ttf")

STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan",
    "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
    "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
    "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee",
    "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
}
SLOGANS = (
    "Grand Canyon State", "Land of Lincoln", "Empire State", "Sunshine State",
    "Live Free or Die", "Garden State", "Lone Star State", "America's Dairyland",
    "Ocean State", "Vacationland", "Aloha State", "Great Lakes", "Famous Potatoes",
    "First in Flight", "10,000 Lakes", "Constitution State", "Virginia is for Lovers",
    "Wild Wonderful", "Big Sky Country", "Explore", "dmv.ca.gov", "Sportsman's Paradise",
    "The Heart of Dixie", "Land of Enchantment", "Celebrating Statehood", "In God We Trust",
    "Green Mountain State", "Keystone State", "visitPA.com", "Pure Michigan", "",
)
PLATE_W, PLATE_H = 480, 240


@dataclass(frozen=True)
class SynthPlate:
    """A rendered plate: RGB pixels, the text a reader must output and its state."""

    image: np.ndarray  # HxWx3 uint8 RGB, the whole plate face
    text: str
    state: str


@lru_cache(maxsize=256)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _palette(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Background and serial colours; mostly dark text on a pale plate, as in the US."""
    r = rng.random()
    if r < 0.78:
        bg = random_rgb(rng, 215, 255) if rng.random() < 0.7 else random_rgb(rng, 180, 255)
        fg = rng.choice(((10, 20, 90), (20, 20, 20), (150, 20, 25), (15, 80, 40),
                         (40, 40, 120), (90, 20, 30), random_rgb(rng, 0, 80)))
    elif r < 0.90:
        bg = rng.choice(((245, 200, 40), (250, 180, 30), (230, 230, 120), (255, 220, 120)))
        fg = rng.choice(((10, 20, 90), (20, 20, 20)))
    else:
        bg = rng.choice(((15, 25, 80), (20, 20, 20), (20, 70, 40), (80, 20, 30)))
        fg = rng.choice(((245, 200, 40), (240, 240, 240), (250, 250, 200)))
    return bg, fg


def _background(rng: random.Random, bg: tuple[int, int, int]) -> Image.Image:
    """Plate face with a gradient and some low-contrast scenery shapes."""
    arr = np.empty((PLATE_H, PLATE_W, 3), np.float32)
    arr[:] = bg
    if rng.random() < 0.6:  # vertical gradient band
        tint = np.float32(random_rgb(rng, 120, 255))
        a = (np.linspace(0, 1, PLATE_H, dtype=np.float32) ** rng.uniform(0.5, 3) * rng.uniform(0.1, 0.4))[:, None, None]
        arr = arr * (1 - a) + tint * a
    img = Image.fromarray(arr.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.choice((0, 0, 1, 2, 3))):  # mountains, sun, flags, waves
        c = tuple(min(255, max(0, v + rng.randint(-45, 25))) for v in bg)
        if rng.random() < 0.5:
            pts = [(rng.randint(-50, PLATE_W + 50), rng.randint(60, PLATE_H)) for _ in range(rng.randint(3, 6))]
            pts += [(PLATE_W, PLATE_H), (0, PLATE_H)]
            draw.polygon(pts, fill=c)
        else:
            x, y, r = rng.randint(0, PLATE_W), rng.randint(0, PLATE_H), rng.randint(15, 80)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=c)
    if rng.random() > 0.3:
        return img
    return img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 2.5)))


def _text_color(rng: random.Random, fg: tuple[int, int, int]) -> tuple[int, int, int]:
    return fg if rng.random() < 0.5 else rng.choice(((150, 20, 25), (10, 20, 90), (20, 20, 20), (30, 90, 160)))


def _decorations(img: Image.Image, rng: random.Random, state: str, fg: tuple[int, int, int]) -> None:
    """State name, slogan, stickers, bolt holes and border: everything that is not the text."""
    draw = ImageDraw.Draw(img)
    name = STATE_NAMES[state]
    name = name.upper() if rng.random() < 0.5 else name
    f = _font(rng.choice(DECOR_FONTS), rng.randint(26, 44))
    w = draw.textlength(name, font=f)
    draw.text(((PLATE_W - w) / 2 + rng.randint(-30, 30), rng.randint(2, 14)), name, font=f, fill=_text_color(rng, fg))
    slogan = rng.choice(SLOGANS)
    if slogan:
        f = _font(rng.choice(DECOR_FONTS), rng.randint(18, 30))
        w = draw.textlength(slogan, font=f)
        draw.text(((PLATE_W - w) / 2 + rng.randint(-20, 20), PLATE_H - rng.randint(34, 44)), slogan, font=f, fill=_text_color(rng, fg))
    sticker_font = rng.choice(DECOR_FONTS)
    for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):  # registration, county and year stickers
        draw_sticker(img, rng, lambda size: _font(sticker_font, size), (PLATE_H // 4, PLATE_H * 3 // 4))
    for cx in (rng.choice((70, 90, 110)), PLATE_W - rng.choice((70, 90, 110))):  # bolt holes
        for cy in ((22, PLATE_H - 22) if rng.random() < 0.5 else (22,)):
            r = rng.randint(5, 9)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=random_rgb(rng, 60, 200))
    if rng.random() < 0.5:
        draw.rounded_rectangle([3, 3, PLATE_W - 4, PLATE_H - 4], 14, outline=_text_color(rng, fg), width=rng.randint(2, 6))


def _glyph_strip(text: str, font: ImageFont.FreeTypeFont, color, rng: random.Random) -> Image.Image:
    """The serial drawn on a transparent strip, with separators and emblems for spaces."""
    spacing = rng.randint(-2, 14)
    widths = [font.getlength(c) if c != " " else font.size * rng.uniform(0.25, 0.6) for c in text]
    total = int(sum(widths) + spacing * (len(text) - 1)) + 8
    asc, desc = font.getmetrics()
    strip = Image.new("RGBA", (max(total, 8), asc + desc + 8), (0, 0, 0, 0))
    draw = ImageDraw.Draw(strip)
    x = 4.0
    emblem = rng.random() < 0.4
    stroke = rng.choice((0, 0, 0, 1, 2, 3))  # stroke-width variety: embossed and bold faces
    for c, w in zip(text, widths):
        if c == " " and emblem:
            top, bottom = asc * rng.uniform(0.05, 0.4), asc * rng.uniform(0.7, 1.0)
            draw_emblem(strip, (x + w * 0.1, top, x + w * 0.9, bottom), _emblem_color(rng, color), rng,
                        lambda size: _font(rng.choice(DECOR_FONTS), size))
        elif c != " ":
            draw.text((x, 4), c, font=font, fill=color, stroke_width=stroke, stroke_fill=color)
        x += w + spacing
    return strip


def _emblem_color(rng: random.Random, fg) -> tuple[int, int, int]:
    return fg if rng.random() < 0.4 else random_rgb(rng, 0, 255)


def _side_emblem(color, rng: random.Random) -> Image.Image:
    """A large emblem beside the serial (a cowboy, whale, cactus or logo on real plates)."""
    h = 120
    w = int(h * rng.uniform(0.5, 1.1))
    strip = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw_emblem(strip, (2, 2, w - 2, h - 2), _emblem_color(rng, color), rng,
                lambda size: _font(rng.choice(DECOR_FONTS), size))
    return strip


def _stacked(text: str, color, rng: random.Random, faces: Sequence[str]) -> Image.Image:
    """Two or three small characters stacked vertically, as on many US special plates."""
    font = _font(rng.choice(faces), rng.randint(34, 44))
    h = sum(font.getbbox(c)[3] + 2 for c in text) + 4
    strip = Image.new("RGBA", (int(max(font.getlength(c) for c in text)) + 6, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(strip)
    y = 2
    for c in text:
        draw.text((3, y - font.getbbox(c)[1]), c, font=font, fill=color)
        y += font.getbbox(c)[3] - font.getbbox(c)[1] + 6
    return strip


def _paste_serial(img: Image.Image, displayed: str, left: Image.Image | None, right: Image.Image | None,
                  fg, rng: random.Random, faces: Sequence[str]) -> None:
    """Fit the serial, with unlabelled items (stacked characters, emblems) on either side,
    into the middle band of the plate."""
    font = _font(rng.choice(faces), rng.randint(110, 150))
    strip = _glyph_strip(displayed, font, fg, rng)
    bbox = strip.getbbox() or (0, 0, strip.width, strip.height)
    strip = strip.crop(bbox)
    target_h = int(PLATE_H * rng.uniform(0.42, 0.6))
    sides = [s.resize((max(4, int(s.width * target_h / s.height * 0.9)), target_h), Image.LANCZOS) if s else None
             for s in (left, right)]
    gap = rng.randint(3, 12)
    side_w = sum(s.width + gap for s in sides if s)
    max_w = max(PLATE_W * 0.3, PLATE_W * rng.uniform(0.74, 0.96) - side_w)
    squeeze = rng.uniform(0.55, 1.05) if rng.random() < 0.3 else rng.uniform(0.7, 1.05)  # Virginia-narrow faces too
    w = min(max_w, strip.width * target_h / strip.height * squeeze)
    strip = strip.resize((max(4, int(w)), target_h), Image.LANCZOS)
    x0 = int((PLATE_W - strip.width - side_w) / 2 + rng.randint(-15, 15))
    y0 = int((PLATE_H - target_h) / 2 + rng.randint(-8, 12))
    if sides[0]:
        img.paste(sides[0], (x0, y0), sides[0])
        x0 += sides[0].width + gap
    if sides[1]:
        img.paste(sides[1], (x0 + strip.width + gap, y0), sides[1])
    img.paste(strip, (x0, y0), strip)


def _frame(img: Image.Image, rng: random.Random) -> None:
    """A dealer frame covering up to ~20 % of the plate's top and bottom edges."""
    draw = ImageDraw.Draw(img)
    color = random_rgb(rng, 0, 80) if rng.random() < 0.7 else random_rgb(rng, 150, 230)
    top, bottom = rng.randint(0, 30), rng.randint(10, 48)
    draw.rectangle([0, 0, PLATE_W, top], fill=color)
    draw.rectangle([0, PLATE_H - bottom, PLATE_W, PLATE_H], fill=color)
    draw.rectangle([0, 0, rng.randint(0, 14), PLATE_H], fill=color)
    draw.rectangle([PLATE_W - rng.randint(0, 14), 0, PLATE_W, PLATE_H], fill=color)
    if bottom > 24:
        f = _font(rng.choice(DECOR_FONTS), bottom - 10)
        text = rng.choice(("TOYOTA OF ORANGE", "HONDA CITY", "AUTO NATION", "CARMAX", "FORD"))
        draw.text((PLATE_W / 2 - draw.textlength(text, font=f) / 2, PLATE_H - bottom + 3), text, font=f, fill=random_rgb(rng, 150, 255))


def render_plate(rng: random.Random, text: str | None = None, state: str | None = None,
                 faces: Sequence[str] = SERIAL_FONTS) -> SynthPlate:
    """Render one plate face; `text` fixes the serial (separators allowed), else random.

    `faces` are the serial's font files (names in FONT_DIR, or absolute paths): training
    can draw from more faces than the demo and tests, which the shipped reader must read.
    """
    state, displayed = (state or rng.choice(sorted(STATE_NAMES)), text) if text else random_serial(rng, state)
    bg, fg = _palette(rng)
    img = _background(rng, bg)
    _decorations(img, rng, state, fg)
    left, right = (_side_items(rng, fg, len(label_of(displayed)), faces) if text is None else (None, None))
    _paste_serial(img, displayed, left, right, fg, rng, faces)
    if rng.random() < 0.25:
        _frame(img, rng)
    return SynthPlate(np.asarray(img, dtype=np.uint8), label_of(displayed), state)


def _side_items(rng: random.Random, fg, length: int, faces: Sequence[str]) -> tuple[Image.Image | None, Image.Image | None]:
    """Unlabelled items beside the serial: stacked small characters and large emblems."""
    items: list[Image.Image | None] = [None, None]
    if rng.random() < 0.18 and length <= 7:
        stack = "".join(rng.choice(LETTERS + DIGITS) for _ in range(rng.choice((2, 2, 2, 3))))
        items[0 if rng.random() < 0.4 else 1] = _stacked(stack, _emblem_color(rng, fg) if rng.random() < 0.3 else fg, rng, faces)
    if rng.random() < 0.15 and length <= 7:
        side = 0 if items[0] is None and rng.random() < 0.75 else 1
        if items[side] is None:
            items[side] = _side_emblem(fg, rng)
    return items[0], items[1]
