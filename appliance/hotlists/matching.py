"""Matching one read against every hotlist: exact, partial, look-alike and the reader's alternatives.

Built once per set of lists (`Matcher(lists)`); a changed list means a new Matcher. The
cost of `match` does not grow with the number of plates: plates sit in one dict keyed
by their text (or in a `PlateIndex`: the store-backed one of stored_index.py keeps only
the text in memory and fetches an entry when a read hits it), and a look-alike match is
found by generating the read's look-alike
neighbours (at most ~32 at budget 1, ~450 at budget 2, `normalise.lookalike_neighbours`)
and looking each up. Patterns are compiled once and tried one by one, so lists should
hold few (partial plates of major incidents), not thousands.

Kinds, strongest first (one Hit per entry, the strongest kind wins):
- exact: the read's text is the entry's plate.
- partial: the read's text fits the entry's pattern (`?` one character, `*` any run).
- alternative: one of the reader's alternative readings is the entry's plate or fits its
  pattern, and that alternative differs from the read only in look-alike characters,
  within the list's budget.
- lookalike: the read differs from the entry's plate only in look-alike characters
  (`normalise.is_lookalike`, pairwise), at most the list's budget of them.
A read that differs from an entry in any character that is not a look-alike of the
entry's is never a hit, whatever the reader's alternatives say; nor is a list with the
"exact" policy ever hit by an alternative or a look-alike. Patterns are not widened by
look-alikes (a partial plate is loose already). The read's state is not compared: the
camera does not read it reliably; the entry's state is shown for the officer to check.
Expired entries never hit.

Score: an estimate of the reader's probability that the plate says `matched_text`, on
one scale for every kind. With c_i the confidence of the read's character i:
- exact: the product of all c_i;
- partial: the product of c_i over the characters the pattern fixes (wildcards count 1);
- lookalike: the product of c_i over the unchanged characters times the product of
  (1 - c_i) over the swapped ones (the reader left at most 1 - c_i for any other
  character there), each swapped factor at least SWAP_FLOOR;
- alternative: the alternative's own score (the reader's beam probability of that text).
When a read has no per-character confidences (or they do not line up with its text),
every character counts as the read's overall confidence, or 1 when it has none.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from appliance.hotlists.model import HIT_KINDS, MAX_PLATE_LEN, Entry, Hit, Hotlist, utc_now
from appliance.hotlists.normalise import lookalike_neighbours, lookalike_positions, normalise_plate

__all__ = ["Matcher", "PlateIndex", "Readable", "compile_pattern", "UNCERTAIN_BELOW", "SWAP_FLOOR"]

log = logging.getLogger(__name__)

UNCERTAIN_BELOW = 0.9  # a character read with less confidence is marked uncertain on the alert
SWAP_FLOOR = 0.001  # a swapped character is never scored impossible: clerks mistype too
_RANK = {k: i for i, k in enumerate(HIT_KINDS)}


class Readable(Protocol):
    """What matching needs of a read: `appliance.types.Read` and `TextReading` both fit."""

    text: str
    char_confidences: tuple[float, ...]
    alternatives: tuple  # of Alternative(text, score)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A regex for a normalised pattern: `?` one character, `*` any run (also none), each a group."""
    parts = ["(.)" if c == "?" else "(.*)" if c == "*" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Pattern:
    rx: re.Pattern[str]
    entry: Entry
    hotlist: Hotlist


class PlateIndex(Protocol):
    """Where a Matcher finds the entries listed under one plate text (a dict of lists of pairs fits)."""

    def get(self, plate: str, default=None) -> Sequence[tuple[Entry, Hotlist]] | None: ...


class Matcher:
    """Every entry of some lists, indexed for matching reads in microseconds."""

    def __init__(self, lists: Iterable[tuple[Hotlist, Iterable[Entry]]],
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        plates: dict[str, list[tuple[Entry, Hotlist]]] = {}
        self._plates: PlateIndex = plates
        self._patterns: list[_Pattern] = []
        self.budget = 0  # the largest look-alike budget of any list
        now = clock()
        count = 0
        for hotlist, entries in lists:
            self.budget = max(self.budget, hotlist.budget)
            for e in entries:
                if e.is_expired(now):
                    continue
                count += 1
                if e.is_pattern:
                    self._patterns.append(_Pattern(compile_pattern(e.plate), e, hotlist))
                else:
                    plates.setdefault(e.plate, []).append((e, hotlist))
        self.size = count
        log.debug("matcher built: %d entries, %d patterns, look-alike budget %d", count, len(self._patterns), self.budget)

    @classmethod
    def indexed(cls, hotlists: Iterable[Hotlist], plates: PlateIndex, patterns: Iterable[tuple[Entry, Hotlist]],
                size: int, clock: Callable[[], datetime] = utc_now) -> Matcher:
        """A matcher over `plates` as given (not copied) and `patterns`; `size` counts both.

        For an index that does not hold Entry objects (stored_index.StoredPlates): a million
        of them would cost the device a gigabyte, and matching needs only the plate text.
        """
        m = cls((), clock)
        m._plates = plates
        now = clock()
        m._patterns = [_Pattern(compile_pattern(e.plate), e, h) for e, h in patterns if not e.is_expired(now)]
        m.budget = max((h.budget for h in hotlists), default=0)
        m.size = size
        return m

    @classmethod
    def for_list(cls, hotlist: Hotlist, entries: Iterable[Entry], clock: Callable[[], datetime] = utc_now) -> Matcher:
        """A matcher for a single list."""
        return cls([(hotlist, entries)], clock)

    def match(self, read: Readable) -> list[Hit]:
        """Every entry the read hits, most urgent list first, then strongest kind, then score."""
        try:
            text = normalise_plate(read.text)
        except ValueError:
            return []
        conf = _confidences(read, text)
        now = self.clock()
        best: dict[str, Hit] = {}
        read_id = getattr(read, "id", "") or ""
        for e, h in self._plates.get(text, ()):
            _keep(best, Hit(e, h, "exact", text, text, (), _uncertain(conf), math.prod(conf), read_id), now)
        for p in self._patterns:
            m = p.rx.fullmatch(text)
            if m:
                _keep(best, Hit(p.entry, p.hotlist, "partial", text, text, (), _uncertain(conf),
                                _literal_score(m, conf), read_id), now)
        if self.budget and len(text) <= MAX_PLATE_LEN:  # no listed plate is longer: skip the neighbours
            alts = self._alternatives(read, text)
            for other, swapped in lookalike_neighbours(text, self.budget):
                found = self._plates.get(other)
                if not found:
                    continue
                alt = alts.get(other)
                for e, h in found:
                    if len(swapped) > h.budget:
                        continue
                    if alt is not None:
                        hit = Hit(e, h, "alternative", text, other, swapped, _uncertain(conf), alt, read_id)
                    else:
                        hit = Hit(e, h, "lookalike", text, other, swapped, _uncertain(conf), _swap_score(conf, swapped), read_id)
                    _keep(best, hit, now)
            if self._patterns:
                for other, score in alts.items():
                    swapped = lookalike_positions(text, other) or ()
                    for p in self._patterns:
                        if len(swapped) <= p.hotlist.budget and p.rx.fullmatch(other):
                            _keep(best, Hit(p.entry, p.hotlist, "alternative", text, other, swapped,
                                            _uncertain(conf), score, read_id), now)
        return sorted(best.values(), key=lambda x: (x.hotlist.priority, _RANK[x.kind], -x.score))

    def _alternatives(self, read: Readable, text: str) -> dict[str, float]:
        """The reader's alternatives that are look-alike variants of the read within the largest budget."""
        out: dict[str, float] = {}
        for alt in getattr(read, "alternatives", ()) or ():
            try:
                other = normalise_plate(alt.text)
            except ValueError:
                continue
            swapped = lookalike_positions(text, other)
            if swapped and len(swapped) <= self.budget:
                out[other] = max(out.get(other, 0.0), float(alt.score))
        return out


def _keep(best: dict[str, Hit], hit: Hit, now: datetime) -> None:
    """Keep the strongest hit per entry; expired entries are dropped here, at match time."""
    if hit.entry.is_expired(now):
        return
    old = best.get(hit.entry.id)
    if old is None or (_RANK[hit.kind], -hit.score) < (_RANK[old.kind], -old.score):
        best[hit.entry.id] = hit


def _confidences(read: Readable, text: str) -> tuple[float, ...]:
    c = tuple(getattr(read, "char_confidences", ()) or ())
    if len(c) == len(text):
        return tuple(min(1.0, max(0.0, float(x))) for x in c)
    overall = getattr(read, "confidence", None)
    return (1.0 if overall is None else float(overall),) * len(text)


def _uncertain(conf: Sequence[float]) -> tuple[int, ...]:
    return tuple(i for i, c in enumerate(conf) if c < UNCERTAIN_BELOW)


def _swap_score(conf: Sequence[float], swapped: tuple[int, ...]) -> float:
    s = 1.0
    for i, c in enumerate(conf):
        s *= max(1.0 - c, SWAP_FLOOR) if i in swapped else c
    return s


def _literal_score(m: re.Match[str], conf: Sequence[float]) -> float:
    wild = set()
    for g in range(1, (m.re.groups or 0) + 1):
        wild.update(range(*m.span(g)))
    return math.prod(c for i, c in enumerate(conf) if i not in wild)
