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


def _two_way(path: str, at: int, first: str, second: str, p_first: float) -> np.ndarray:
    """`path` with frame `at` split between two characters (first gets p_first)."""
    p = probs_for(path, sure=0.98)
    p[at] = 0.0
    p[at, ALPHABET.index(first) + 1] = p_first
    p[at, ALPHABET.index(second) + 1] = 1 - p_first
    return p


def test_a_look_alike_that_fits_a_state_format_wins_when_nearly_as_likely():
    """TZY647J fits no state's format, TZY6473 fits several (LLL####): 0.55 against 0.45 goes to the format."""
    r = decode(_two_way("-T-Z-Y-6-4-7-J-", 13, "J", "3", 0.55))
    assert r.text == "TZY6473"
    assert abs(r.char_confidences[6] - 0.45) < 0.01 and abs(r.confidence - 0.45) < 0.01  # the chosen 3's own probability
    assert r.alternatives[0].text == "TZY647J"


def test_the_network_wins_when_the_format_fitting_look_alike_is_far_less_likely():
    """The prior is weak (FORMAT_PRIOR): under half the top string's probability, the top string stays."""
    from appliance.recognition.plate_format import FORMAT_PRIOR

    r = decode(_two_way("-T-Z-Y-6-4-7-J-", 13, "J", "3", 0.7))
    assert 0.3 * FORMAT_PRIOR < 0.7 and r.text == "TZY647J"
    assert "TZY6473" in [a.text for a in r.alternatives]


def test_vanity_plates_that_fit_no_format_are_read_as_the_network_reads_them():
    """Neither ANTIG0V nor ANT1G0V fits a format: the prior weighs both alike and the likelier stays."""
    from appliance.recognition.plate_format import format_prior

    r = decode(_two_way("-A-N-T-I-G-0-V-", 7, "I", "1", 0.6))
    assert format_prior("ANTIG0V") == format_prior("ANT1G0V") == 1.0
    assert r.text == "ANTIG0V" and abs(r.confidence - 0.6) < 0.01
    assert r.alternatives[0].text == "ANT1G0V" and 0.3 < r.alternatives[0].score < 0.4  # 0.4 x the other six (~0.98 each)
