"""The shipped reader reads plates this test renders with known text."""

import random

import cv2

from appliance.recognition.reader import default_model_path
from appliance.synth.degrade import detector_like_crop
from appliance.synth.plates import render_plate

KNOWN = ["7ABC123", "4XYZ567", "8KLM902", "5TRS318", "2DEF444", "6GHJ781", "3NPQ205",
         "1WUV660", "9RST123", "4BCD987", "ABC1234", "GHW4821", "NTGUILTY", "XR5", "52983"]


def _crops(seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for text in KNOWN:
        plate = render_plate(rng, text=text, state=rng.choice(["CA", "NY", "TX", "AZ"]))
        rgb = detector_like_crop(plate.image, rng, 256, 128)
        out.append(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return out


def test_reads_rendered_plates(reader):
    readings = reader.read(_crops(seed=11))
    right = [r.text == t for r, t in zip(readings, KNOWN)]
    assert sum(right) >= len(KNOWN) - 1, [(t, r.text) for r, t in zip(readings, KNOWN)]
    for r in readings:
        assert 0.0 <= r.confidence <= 1.0 and len(r.char_confidences) == len(r.text)


def test_batch_and_single_calls_agree(reader):
    crops = _crops(seed=12)[:4]
    batch = reader.read(crops)
    single = [reader.read([c])[0] for c in crops]
    assert [b.text for b in batch] == [s.text for s in single]
    assert all(abs(b.confidence - s.confidence) < 1e-4 for b, s in zip(batch, single))


def test_blank_crop_reads_nothing_legible(recognizer):
    import numpy as np
    grey = np.full((150, 300, 3), 128, np.uint8)
    assert recognizer.read_crops([grey]) == [[]]


def test_shipped_reader_is_the_int8_model(reader):
    """The package ships quantize.py's output, not a float export (training/README.md)."""
    meta = reader.session.get_modelmeta().custom_metadata_map
    assert meta.get("quantized", "").startswith("int8"), meta
    assert meta["input"] == "3x64x128 RGB/255"
    assert default_model_path().stat().st_size < 1_200_000
