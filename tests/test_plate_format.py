"""The US plate-format check lowers confidence on impossible strings, never discards them."""

from appliance.recognition.plate_format import check, format_bonus


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


def test_format_bonus_breaks_ties_toward_state_formats():
    assert format_bonus("7ABC123") > format_bonus("7ABCI23")
