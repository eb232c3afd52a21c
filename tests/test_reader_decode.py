"""CTC decoding, confidences and alternatives on hand-made probability matrices."""

import numpy as np

from appliance.recognition.reader import ALPHABET, decode

T, C = 32, len(ALPHABET) + 1


def probs_for(path: str, sure: float = 0.9, second: dict[int, str] | None = None) -> np.ndarray:
    """Frames spelling `path` ('-' = blank); `second` puts 1-sure on another char at a frame."""
    p = np.full((T, C), (1 - sure) / (C - 1), np.float32)
    for t in range(T):
        ch = path[t] if t < len(path) else "-"
        k = 0 if ch == "-" else ALPHABET.index(ch) + 1
        p[t] = (1 - sure) / (C - 1)
        p[t, k] = sure
        if second and t in second:
            p[t, ALPHABET.index(second[t]) + 1] = 1 - sure
    return p / p.sum(1, keepdims=True)


def test_repeats_collapse_and_blanks_separate():
    r = decode(probs_for("--77-A-BB-C--1-2-33"))
    assert r.text == "7ABC123"


def test_doubled_letter_needs_a_blank_between():
    assert decode(probs_for("-A-A-")).text == "AA"
    assert decode(probs_for("-AA-")).text == "A"


def test_plate_confidence_is_the_weakest_character():
    p = probs_for("-7-A-B-C-1-2-3-")
    p[5] = 0.0
    p[5, ALPHABET.index("B") + 1] = 0.55
    p[5, ALPHABET.index("8") + 1] = 0.45
    r = decode(p)
    assert r.text == "7ABC123"
    assert abs(r.confidence - 0.55) < 1e-3 and abs(min(r.char_confidences) - 0.55) < 1e-3
    assert r.alternatives[0].text == "7A8C123"  # the swapped look-alike ranks first


def test_confusables_listed_even_when_sure():
    from appliance.recognition.confusables import partners
    r = decode(probs_for("-A-B-C-1-0-3-", sure=0.99))
    assert r.text == "ABC103" and len(r.alternatives) == 5
    for alt in r.alternatives:
        diffs = [(a, b) for a, b in zip(r.text, alt.text) if a != b]
        assert len(alt.text) == 6 and len(diffs) == 1 and diffs[0][1] in partners(diffs[0][0])
        assert alt.score < r.confidence


def test_empty_read():
    r = decode(probs_for(""))
    assert r.text == "" and r.confidence == 0.0 and r.alternatives == ()
