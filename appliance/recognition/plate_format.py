"""US plate-format knowledge: is a read string a plausible plate, and which states issue it.

Vanity plates break every state rule, so formats never discard a read: an impossible
string only gets a lower confidence, and state formats are a weak prior when the reader
chooses between near-equal look-alike strings (O/0, I/1, 8/B, 5/S, Z/1, J/3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from appliance.synth.serials import STATE_PATTERNS

MIN_LEN, MAX_LEN, MAX_VANITY_LEN = 2, 8, 10
PLATE_CHARS = re.compile(r"[A-Z0-9]+")


@dataclass(frozen=True)
class FormatCheck:
    """Result of checking one string: how much to trust it and which states fit."""

    factor: float  # multiply the reader's confidence by this
    states: tuple[str, ...]  # states whose standard serial format matches
    reason: str  # "" when plausible, else why not


@lru_cache(maxsize=1)
def _state_shapes() -> dict[int, tuple[tuple[str, int, int], ...]]:
    """Every state serial format by length: (state, digit positions, letter positions) as bitmasks.

    A format character is # (digit), L (letter) or * (either); a string of the same
    length fits when no digit sits where a letter must and no letter where a digit must.
    Bitmasks, not 75 regular expressions: every read checks dozens of alternative strings.
    """
    by_length: dict[int, list[tuple[str, int, int]]] = {}
    for state, patterns in sorted(STATE_PATTERNS.items()):
        for pattern in patterns:
            shape = [c for c in pattern if c in "#L*"]
            digits = sum(1 << i for i, c in enumerate(shape) if c == "#")
            letters = sum(1 << i for i, c in enumerate(shape) if c == "L")
            by_length.setdefault(len(shape), []).append((state, digits, letters))
    return {n: tuple(v) for n, v in by_length.items()}


def _states(text: str) -> Iterator[str]:
    """The states whose standard formats fit `text` (A-Z 0-9 only), one per fitting format, lazily."""
    digits = sum(1 << i for i, c in enumerate(text) if c.isdigit())
    letters = ((1 << len(text)) - 1) ^ digits
    return (state for state, d, l in _state_shapes().get(len(text), ()) if not d & letters and not l & digits)


def check(text: str) -> FormatCheck:
    """Judge a read string against US plate formats."""
    if not text:
        return FormatCheck(0.0, (), "empty")
    if not PLATE_CHARS.fullmatch(text):
        return FormatCheck(0.3, (), "characters outside A-Z 0-9")
    states = tuple(_states(text))
    n = len(text)
    if n < MIN_LEN:
        return FormatCheck(0.5, states, f"{n} character is shorter than any US plate")
    if n > MAX_VANITY_LEN:
        return FormatCheck(0.5, states, f"{n} characters is longer than any US plate")
    if n > MAX_LEN:
        return FormatCheck(0.85, states, f"{n} characters: only a few vanity plates are this long")
    if len(set(text)) == 1 and n >= 4:
        return FormatCheck(0.8, states, "one character repeated")
    return FormatCheck(1.0, states, "")


def vanity_zeros(text: str) -> str:
    """Write a vanity plate's round O as 0, the way US plate records spell it.

    Most states print O and 0 with one glyph, and plate records spell that glyph 0 in
    vanity plates: in the openalpr-us training and validation labels, 35 of 441 crops
    have a 0 in a string no state format issues, and not one such string has an O. A reader cannot tell the two apart
    there, so a string that no state's standard format issues gets 0 for O. A string some
    state issues keeps its O: its format says which positions hold letters (NOX218).
    The O stays among the reading's alternatives (confusables), so hotlist matching is
    unaffected.
    """
    if "O" not in text or check(text).states:
        return text
    return text.replace("O", "0")


FORMAT_PRIOR = 2.0  # how much more likely a string some state issues is than one none does


def format_prior(text: str) -> float:
    """Prior weight of a read string: FORMAT_PRIOR when some state's standard format issues it, else 1.

    The reader picks the string with the highest probability times this weight, so a
    string that fits a state format wins over the network's top string when its
    probability is at least half as high (TZY647J -> TZY6473, 24704I0 -> 2470410). Kept
    low because vanity plates fit no format: chosen on validation crops and cuts with a
    reader trained without them, where weights 1.5-3 changed no validation read and 5
    lost one cut (training/README, "Plate formats in decoding").
    """
    return FORMAT_PRIOR if PLATE_CHARS.fullmatch(text) and any(_states(text)) else 1.0
