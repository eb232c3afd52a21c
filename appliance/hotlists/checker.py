"""The import checker: what in a list will stop the wrong car or miss the right one.

Warnings, not refusals: the person importing decides. Look-alike twins (`ABC1O3` and
`ABC103` on one list) usually mean one of them was mistyped; a missing state makes the
officer's CLETS check harder; expired records should not be imported; duplicates give
two alerts for one car.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from appliance.hotlists.model import Entry
from appliance.hotlists.normalise import lookalike_key, lookalike_positions

__all__ = ["CheckWarning", "CheckReport", "check", "WARNING_KINDS"]

WARNING_KINDS = ("lookalike_twin", "duplicate", "no_state", "expired")


@dataclass(frozen=True, slots=True)
class CheckWarning:
    """One finding, with the plates and (when known) the file lines involved."""

    kind: str  # one of WARNING_KINDS
    message: str
    plates: tuple[str, ...]
    lines: tuple[int, ...] = ()


@dataclass(frozen=True)
class CheckReport:
    """Counts of every finding by kind, and the first `limit` findings of each kind in full."""

    counts: dict[str, int] = field(default_factory=dict)
    warnings: tuple[CheckWarning, ...] = ()

    @property
    def clean(self) -> bool:
        return not any(self.counts.values())

    def of_kind(self, kind: str) -> list[CheckWarning]:
        return [w for w in self.warnings if w.kind == kind]


def _where(lines: Sequence[int]) -> str:
    return f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""


def check(entries: Sequence[Entry], *, now: datetime, lines: Sequence[int] | None = None,
          budget: int = 1, limit: int = 100) -> CheckReport:
    """Warnings for one list's entries; `lines` (parallel to entries) puts file lines in the messages.

    Twins are plates that differ only in look-alike characters, at most `budget` of them
    (pairs found through `lookalike_key` buckets, then confirmed pairwise, so a million
    entries are checked in seconds, not hours).
    """
    where = lines if lines is not None else [0] * len(entries)
    if len(where) != len(entries):
        raise ValueError(f"lines has {len(where)} numbers for {len(entries)} entries")
    counts = dict.fromkeys(WARNING_KINDS, 0)
    found: list[CheckWarning] = []

    def warn(w: CheckWarning) -> None:
        counts[w.kind] += 1
        if counts[w.kind] <= limit:
            found.append(w)

    first: dict[str, int] = {}  # plate -> index of its first entry; keys are the entries' own strings
    again: dict[str, list[int]] = {}  # plates seen more than once -> every index (rare, so kept apart)
    buckets: dict[str, str | list[str]] = {}  # lookalike_key -> the plate, or the plates once there are several
    for i, e in enumerate(entries):
        if not e.state:
            warn(CheckWarning("no_state", f"{e.plate} has no state{_where(_lines(where, [i]))}", (e.plate,),
                              _lines(where, [i])))
        if e.is_expired(now):
            warn(CheckWarning("expired", f"{e.plate} expired at {e.expires_at:%Y-%m-%d %H:%M} UTC"
                                         f"{_where(_lines(where, [i]))}", (e.plate,), _lines(where, [i])))
        j = first.setdefault(e.plate, i)
        if j != i:
            again.setdefault(e.plate, [j]).append(i)
        elif not e.is_pattern:
            key = lookalike_key(e.plate)
            b = buckets.setdefault(key, e.plate)
            if b is not e.plate:
                buckets[key] = [b, e.plate] if isinstance(b, str) else b + [e.plate]
    for plate, idx in again.items():
        by_state: dict[str, list[int]] = {}
        for i in idx:
            by_state.setdefault(entries[i].state, []).append(i)
        for state, same in by_state.items():
            if len(same) > 1:
                ls = _lines(where, same)
                warn(CheckWarning("duplicate", f"{plate}{' (' + state + ')' if state else ''} appears {len(same)} "
                                               f"times{_where(ls)}", (plate,), ls))
    for plates in buckets.values():
        if isinstance(plates, str):
            continue
        for a_i, a in enumerate(plates):
            for b in plates[a_i + 1:]:
                pos = lookalike_positions(a, b)
                if pos and len(pos) <= budget:
                    ls = _lines(where, [first[a], first[b]])
                    swaps = ", ".join(f"position {p + 1}: {a[p]}/{b[p]}" for p in pos)
                    warn(CheckWarning("lookalike_twin", f"{a} and {b} differ only in look-alike characters ({swaps}); "
                                      f"one is probably mistyped{_where(ls)}", (a, b), ls))
    return CheckReport(counts, tuple(found))


def _lines(where: Sequence[int], idx: Sequence[int]) -> tuple[int, ...]:
    return tuple(where[i] for i in idx if where[i])
