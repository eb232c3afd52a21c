"""US plate-format knowledge: is a read string a plausible plate, and which states issue it.

Vanity plates break every state rule, so formats never discard a read: an impossible
string only gets a lower confidence, and state formats serve as low-weight tie-breakers
between near-equal alternatives (O/0, I/1, 8/B, 5/S).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from appliance.synth.serials import STATE_PATTERNS

MIN_LEN, MAX_LEN, MAX_VANITY_LEN = 2, 8, 10


@dataclass(frozen=True)
class FormatCheck:
    """Result of checking one string: how much to trust it and which states fit."""

    factor: float  # multiply the reader's confidence by this
    states: tuple[str, ...]  # states whose standard serial format matches
    reason: str  # "" when plausible, else why not


def _regex(pattern: str) -> re.Pattern[str]:
    body = "".join({"#": "[0-9]", "L": "[A-Z]", "*": "[A-Z0-9]"}.get(c, "") for c in pattern)
    return re.compile(f"^{body}$")


@lru_cache(maxsize=1)
def _state_regexes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple((state, _regex(p)) for state, pats in sorted(STATE_PATTERNS.items()) for p in pats)


def check(text: str) -> FormatCheck:
    """Judge a read string against US plate formats."""
    if not text:
        return FormatCheck(0.0, (), "empty")
    if not re.fullmatch(r"[A-Z0-9]+", text):
        return FormatCheck(0.3, (), "characters outside A-Z 0-9")
    states = tuple(s for s, rx in _state_regexes() if rx.match(text))
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


def format_bonus(text: str) -> float:
    """A small multiplicative tie-breaker for ranking alternatives (1.0 to 1.05)."""
    return 1.05 if check(text).states else 1.0
