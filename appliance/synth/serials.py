"""Random plate serials in the patterns US states issue.

Patterns use ``#`` for a digit, ``L`` for a letter and ``*`` for either; a space in a
pattern is where the plate shows a gap, dash or emblem (it is not part of the text).
The table is written from the states' published standard formats (the same facts that
Faker's ``automotive/en_US`` provider lists); it only has to be varied, not complete.
"""

from __future__ import annotations

import random
import string

LETTERS = string.ascii_uppercase
DIGITS = string.digits
ALPHABET = DIGITS + LETTERS
# Look-alikes the reader confuses on real plates (0/O/D/Q, 1/I/T, 8/B, 5/S, 2/Z, 6/G, C/G):
# some serials draw their characters mostly from these so that position in the pattern is
# not enough and the glyph shape must decide.
LOOKALIKE_LETTERS = "ODQBSZIGCTEU"
LOOKALIKE_DIGITS = "0185263"

STATE_PATTERNS: dict[str, tuple[str, ...]] = {
    "CA": ("#LLL###",),
    "TX": ("LLL ####", "LL# L###"),
    "NY": ("LLL ####",),
    "FL": ("LLL L##", "### LLL", "#### LL"),
    "IL": ("LL #####", "### ####"),
    "PA": ("LLL ####",),
    "OH": ("LLL ####",),
    "MI": ("LLL ####", "# LLL ##"),
    "GA": ("LLL####", "### LLL"),
    "NC": ("LLL ####",),
    "NJ": ("L## LLL", "LLL ##L"),
    "VA": ("LLL ####", "LLL ###"),
    "WA": ("LLL####", "###LLL"),
    "AZ": ("LLL####", "### LLL"),
    "MA": ("# LLL ##", "### LL#", "##L ###"),
    "TN": ("L## ##L", "### LLL"),
    "IN": ("###L", "### LLL"),
    "MO": ("LL# L#L",),
    "MD": ("#LL####",),
    "WI": ("LLL ####", "###-LLL"),
    "CO": ("LLL-###", "###-LLL"),
    "MN": ("### LLL",),
    "SC": ("LLL ###",),
    "AL": ("##L###L", "## ####L"),
    "LA": ("LLL ###",),
    "KY": ("### LLL",),
    "OR": ("### LLL",),
    "OK": ("LLL-###",),
    "CT": ("LL-#####", "###-LLL"),
    "UT": ("L## #LL",),
    "IA": ("LLL ###",),
    "NV": ("##L ###", "###-L##"),
    "AR": ("### LLL",),
    "MS": ("LLL ###",),
    "KS": ("### LLL",),
    "NM": ("LLL-###",),
    "NE": ("LLL ###", "# L####"),
    "ID": ("# ######", "#L ####"),
    "WV": ("#LL ###",),
    "HI": ("LLL ###", "###-###"),
    "NH": ("### ####",),
    "ME": ("#### LL",),
    "MT": ("#-####L",),
    "RI": ("LL-###", "###-###"),
    "DE": ("######", "#####"),
    "SD": ("#L ###",),
    "ND": ("LLL ###",),
    "AK": ("LLL ###",),
    "VT": ("LLL ###",),
    "WY": ("## ####",),
    "DC": ("LL-####",),
}


def pattern_for(state: str, rng: random.Random) -> str:
    """Pick one of the state's serial patterns."""
    return rng.choice(STATE_PATTERNS[state])


def fill(pattern: str, rng: random.Random, lookalike: float = 0.0) -> str:
    """Fill a pattern with random characters, keeping its separators.

    Each character comes from the look-alike sets with probability `lookalike`.
    """
    out = []
    for p in pattern:
        near = lookalike > 0 and rng.random() < lookalike  # no draw when off: seeded texts stay
        if p == "#":
            out.append(rng.choice(LOOKALIKE_DIGITS if near else DIGITS))
        elif p == "L":
            out.append(rng.choice(LOOKALIKE_LETTERS if near else LETTERS))
        elif p == "*":
            out.append(rng.choice(LOOKALIKE_LETTERS + LOOKALIKE_DIGITS if near else ALPHABET))
        else:
            out.append(p)
    return "".join(out)


def vanity(rng: random.Random) -> str:
    """A vanity-style string of 2-8 characters, letter-heavy, sometimes with a gap."""
    n = rng.choice((2, 3, 4, 5, 5, 6, 6, 7, 7, 8))
    chars = [rng.choice(LETTERS if rng.random() < 0.75 else DIGITS) for _ in range(n)]
    if n >= 4 and rng.random() < 0.3:
        chars.insert(rng.randint(1, n - 1), " ")
    return "".join(chars)


def random_serial(rng: random.Random, state: str | None = None) -> tuple[str, str]:
    """Return (state, displayed serial); the label is the serial without separators."""
    state = state or rng.choice(sorted(STATE_PATTERNS))
    if rng.random() < 0.15:
        return state, vanity(rng)
    if rng.random() < 0.15:
        # Length balance: other states' formats and pure random strings of 2-8.
        n = rng.randint(2, 8)
        return state, "".join(rng.choice(ALPHABET) for _ in range(n))
    return state, fill(pattern_for(state, rng), rng, lookalike=0.6 if rng.random() < 0.3 else 0.0)


def label_of(displayed: str) -> str:
    """The text a reader must output: A-Z and 0-9 only."""
    return "".join(c for c in displayed.upper() if c in ALPHABET)
