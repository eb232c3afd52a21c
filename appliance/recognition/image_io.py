"""Decode still images into 8-bit BGR arrays, whatever their depth and channels.

Cameras and tools hand us grayscale, 16-bit and alpha-channel files; the recognisers
want 8-bit BGR. A bad file raises ImageError with a message fit for the user.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # ~8K x 6K; beyond this a still from a roadside camera is absurd
MAX_BYTES = 200 * 1024 * 1024

from appliance.errors import ImageError  # noqa: E402


def _check_header(path: Path) -> bool:
    """Reject absurd sizes from the header alone; return whether the image has alpha."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large: {exc}") from exc
    except (UnidentifiedImageError, OSError):
        return False  # OpenCV may still know the format; it decides below
    if w * h > MAX_PIXELS:
        raise ImageError(f"image too large: {w}x{h} pixels (limit {MAX_PIXELS:,})")
    if w == 0 or h == 0:
        raise ImageError("image is empty (0 pixels)")
    return has_alpha


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Convert a decoded image of any depth/channel count to 8-bit, 3-channel BGR."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = np.clip(img * (255.0 if img.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageError(f"unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        # Composite on white: a transparent plate background reads as a pale plate.
        alpha = img[..., 3:4].astype(np.float32) / 255.0
        return (img[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[..., 0], cv2.COLOR_GRAY2BGR)
    return img[..., :3]


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as 8-bit BGR (OpenCV's orientation and pixel grid)."""
    p = Path(path)
    if not p.exists():
        raise ImageError("no such file")
    if p.is_dir():
        raise ImageError("is a folder, not an image")
    size = p.stat().st_size
    if size == 0:
        raise ImageError("file is empty")
    if size > MAX_BYTES:
        raise ImageError(f"file too large: {size:,} bytes (limit {MAX_BYTES:,})")
    has_alpha = _check_header(p)
    data = np.fromfile(p, dtype=np.uint8)
    # IMREAD_COLOR gives exactly imread's grid (EXIF orientation, 16-bit scaled to 8-bit,
    # grey expanded); alpha images are decoded unchanged so they can be composited.
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED if has_alpha else cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ImageError("not an image OpenCV can decode")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise ImageError(f"image too large: {img.shape[1]}x{img.shape[0]} pixels")
    return to_bgr8(img)
