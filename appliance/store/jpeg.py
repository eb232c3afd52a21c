"""Checking, downscaling and encoding the read's images to JPEG, in memory only."""

from __future__ import annotations

import cv2
import numpy as np

from appliance.errors import ImageError


def check(img: np.ndarray, what: str) -> None:
    """ImageError unless `img` is a non-empty uint8 BGR or grayscale array."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3) or img.size == 0 \
            or (img.ndim == 3 and img.shape[2] not in (1, 3)):
        shape = getattr(img, "shape", None)
        dtype = getattr(img, "dtype", type(img).__name__)
        raise ImageError(f"read.{what} must be a non-empty BGR or grayscale uint8 array; got shape {shape}, {dtype}")


def downscale(img: np.ndarray, max_width: int, what: str) -> np.ndarray:
    """Shrink to `max_width` keeping the aspect ratio; a frame already that small is kept as is."""
    check(img, what)
    h, w = img.shape[:2]
    if w <= max_width:
        return img
    return cv2.resize(img, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)


def encode(img: np.ndarray, what: str, quality: int) -> bytes:
    """JPEG bytes in memory (they are sealed before anything reaches the disk)."""
    check(img, what)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError(f"read.{what} could not be encoded as JPEG (shape {img.shape})")
    return buf.tobytes()
