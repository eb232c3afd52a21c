"""Still images of every valid kind decode to 8-bit BGR; bad ones raise a clear ImageError."""

import struct
import zlib

import cv2
import numpy as np
import pytest

from appliance.errors import ImageError
from appliance.recognition.image_io import load_image


def test_grayscale_alpha_and_16bit(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (40, 80, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), rgb[..., 0])
    bgra = np.dstack([rgb, np.full((40, 80), 255, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    cv2.imwrite(str(tmp_path / "d.png"), rgb.astype(np.uint16) * 257)
    for name in ("g.png", "a.png", "d.png"):
        img = load_image(tmp_path / name)
        assert img.shape == (40, 80, 3) and img.dtype == np.uint8
    assert np.array_equal(load_image(tmp_path / "a.png"), rgb)
    assert np.abs(load_image(tmp_path / "d.png").astype(int) - rgb).max() <= 1


def test_transparent_pixels_become_white(tmp_path):
    bgra = np.zeros((10, 20, 4), np.uint8)
    cv2.imwrite(str(tmp_path / "t.png"), bgra)
    assert load_image(tmp_path / "t.png").min() == 255


def _png_header_only(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + iend


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "empty"),
    (b"this is not an image", "not an image"),
    (_png_header_only(60000, 60000), "too large"),
])
def test_bad_images_raise_clear_errors(tmp_path, content, message):
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(path)


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
