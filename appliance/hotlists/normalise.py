"""Plate text in one form, and which characters count as look-alikes (the O/0 problem).

Lists arrive typed by clerks ("7abc-123", "7 ABC 123") and reads arrive from the reader
("7ABC123"); both are brought to A-Z0-9 before anything is compared.

Look-alikes come from `appliance.recognition.confusables.GROUPS`, the same table the
reader uses for its alternatives. The groups overlap: B is in "8B" and "3B", T in "I1LT"
and "7T", G in "6G" and "CG". Two characters are look-alikes only when one group holds
both (`is_lookalike`): 8/B and 3/B are, 8/3 is not; I/T and 7/T are, I/7 is not.
Matching therefore checks partners pairwise and never uses a canonical form as the
test. `lookalike_key` is only a bucket key: it maps every character to the smallest
member of its connected component (the transitive closure of the groups, e.g.
{3, 8, B} -> "3", {1, 7, I, L, T} -> "1"), so two look-alike twins always share a key,
while a shared key still needs `lookalike_positions` to confirm them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from appliance.recognition.confusables import CONFUSABLE, GROUPS

__all__ = ["normalise_plate", "normalise_pattern", "is_lookalike", "lookalike_positions",
           "lookalike_key", "lookalike_neighbours", "PLATE_CHARS", "WILDCARDS"]

PLATE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
WILDCARDS = frozenset("?*")
SEPARATORS = frozenset(" \t-.")  # what people type between plate characters
_DROP = str.maketrans("", "", "".join(SEPARATORS))
_PLATE_RE = re.compile(r"[A-Z0-9]+\Z")
_PATTERN_RE = re.compile(r"[A-Z0-9?*]+\Z")


def _clean(text: str, rx: re.Pattern[str], what: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be text; got {type(text).__name__}")
    s = text.translate(_DROP)
    u = s.upper()
    if s.isascii() and rx.match(u):  # the fast path: one translate, one regex
        return u
    allow = "A-Z, 0-9" + (", ? and *" if rx is _PATTERN_RE else "")
    for c in s:
        if not (c.isascii() and rx.match(c.upper())):
            raise ValueError(f"{what} {text!r} has {c!r}; allowed are {allow} (spaces, dashes and dots are dropped)")
    raise ValueError(f"{what} {text!r} is empty once spaces, dashes and dots are dropped")


def normalise_plate(text: str) -> str:
    """Upper-case A-Z0-9 with spaces, dashes and dots dropped; anything else is refused (ValueError)."""
    return _clean(text, _PLATE_RE, "plate")


def normalise_pattern(text: str) -> str:
    """Like `normalise_plate` but keeps `?` (one character) and `*` (any run); `**` becomes `*`."""
    p = _clean(text, _PATTERN_RE, "plate")
    while "**" in p:
        p = p.replace("**", "*")
    return p


def is_lookalike(a: str, b: str) -> bool:
    """True when one group of the confusables table holds both characters (a != b)."""
    return b in CONFUSABLE.get(a, "")


def lookalike_positions(read: str, other: str) -> tuple[int, ...] | None:
    """Positions where two same-length plates differ, or None if any difference is not a look-alike pair."""
    if len(read) != len(other):
        return None
    out = []
    for i, (a, b) in enumerate(zip(read, other)):
        if a != b:
            if b not in CONFUSABLE.get(a, ""):
                return None
            out.append(i)
    return tuple(out)


def _components() -> dict[str, str]:
    rep = {c: c for g in GROUPS for c in g}

    def find(c: str) -> str:
        while rep[c] != c:
            c = rep[c]
        return c

    for g in GROUPS:
        for c in g[1:]:
            a, b = find(g[0]), find(c)
            if a != b:
                rep[max(a, b)] = min(a, b)
    return {c: find(c) for c in rep}


_KEY = str.maketrans(_components())


def lookalike_key(plate: str) -> str:
    """Bucket key: each character replaced by the smallest member of its look-alike component."""
    return plate.translate(_KEY)


def lookalike_neighbours(plate: str, budget: int) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Every plate reached by swapping 1..budget characters for a look-alike partner, with the positions swapped.

    Bounded: a character has at most four partners, so an 8-character plate has at most
    32 neighbours at budget 1 and about 450 at budget 2. No plate is produced twice.
    """
    chars = list(plate)
    n = len(chars)

    def walk(start: int, left: int, pos: tuple[int, ...]) -> Iterator[tuple[str, tuple[int, ...]]]:
        for i in range(start, n):
            orig = chars[i]
            for p in CONFUSABLE.get(orig, ""):
                chars[i] = p
                here = pos + (i,)
                yield "".join(chars), here
                if left > 1:
                    yield from walk(i + 1, left - 1, here)
            chars[i] = orig

    if budget > 0:
        yield from walk(0, budget, ())
