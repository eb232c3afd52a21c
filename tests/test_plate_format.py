"""The US plate-format check lowers confidence on impossible strings, never discards them."""

from appliance.recognition.plate_format import check, format_prior, vanity_zeros


def test_california_serial_matches_ca():
    r = check("7ABC123")
    assert r.factor == 1.0 and "CA" in r.states and r.reason == ""


def test_vanity_plate_is_plausible_without_a_state_format():
    r = check("NTGUILTY")
    assert r.factor == 1.0 and r.states == ()


def test_impossible_lengths_are_penalised_not_rejected():
    assert check("A").factor < 1 and check("A").reason
    assert check("ABCDEFGHIJKL").factor < 1
    assert 0.5 < check("ABCDEFGHI").factor < 1


def test_empty_and_repeated():
    assert check("").factor == 0
    assert check("1111111").factor < 1


def test_format_prior_favours_strings_some_state_issues():
    assert format_prior("7ABC123") > format_prior("7ABCI23")


def test_vanity_plates_spell_the_round_glyph_zero():
    # No state issues these strings, so they are vanity plates: O and 0 are one glyph
    # there, and plate records write 0.
    assert vanity_zeros("OLDGRL") == "0LDGRL"
    assert vanity_zeros("OUTFR0NT") == "0UTFR0NT"


def test_a_state_serial_keeps_its_letter_o():
    assert check("NOX218").states  # three letters, three digits
    assert vanity_zeros("NOX218") == "NOX218"
    assert vanity_zeros("7ABC123") == "7ABC123"


def test_the_reader_keeps_the_o_spelling_as_an_alternative():
    import numpy as np

    from appliance.recognition.reader import ALPHABET, decode

    text = "OLDGRL"
    probs = np.full((32, len(ALPHABET) + 1), 1e-4, np.float32)
    probs[:, 0] = 1.0
    for i, c in enumerate(text):
        probs[2 + 4 * i] = 1e-4
        probs[2 + 4 * i, ALPHABET.index(c) + 1] = 0.97
    r = decode(probs)
    assert r.text == "0LDGRL"
    assert "OLDGRL" in [a.text for a in r.alternatives]


def test_state_formats_match_as_their_patterns_read():
    """The bitmask matcher agrees with the formats written as regular expressions (# digit, L letter, * either)."""
    import random
    import re

    from appliance.synth.serials import STATE_PATTERNS

    def by_regex(text: str) -> tuple[str, ...]:
        return tuple(state for state, patterns in sorted(STATE_PATTERNS.items()) for p in patterns
                     if re.fullmatch("".join({"#": "[0-9]", "L": "[A-Z]", "*": "[A-Z0-9]"}.get(c, "") for c in p), text))

    rng = random.Random(3)
    shapes = [p for patterns in STATE_PATTERNS.values() for p in patterns]
    texts = ["".join(rng.choice("0123456789" if c == "#" else "ABCXYZ" if c == "L" else "A1")
                     for c in pattern if c in "#L*") for pattern in shapes for _ in range(5)]
    texts += ["".join(rng.choice("AB12") for _ in range(rng.randint(1, 9))) for _ in range(300)]
    assert sum(bool(by_regex(t)) for t in texts) > 5 * len(shapes) - 1  # the samples drawn from formats fit
    for t in texts:
        assert check(t).states == by_regex(t), t
