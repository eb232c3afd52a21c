"""Characters a camera, a reader or a data-entry clerk mixes up (the O/0 problem).

One table for the reader's alternatives and, later, the hotlist's look-alike matching.
"""

from __future__ import annotations

GROUPS = ("O0DQ", "I1LT", "8B", "5S", "2Z", "6G", "UV", "MN", "4A", "7T", "3B", "EF", "CG", "KX", "PR")


def _build() -> dict[str, str]:
    out: dict[str, set[str]] = {}
    for g in GROUPS:
        for c in g:
            out.setdefault(c, set()).update(x for x in g if x != c)
    return {c: "".join(sorted(v)) for c, v in out.items()}


CONFUSABLE: dict[str, str] = _build()


def partners(char: str) -> str:
    """Characters commonly confused with `char` (empty when none)."""
    return CONFUSABLE.get(char, "")
