"""The Matcher over every stored list, with only plate texts in memory: a million entries in ~100 MB.

`Matcher(load_lists(store))` holds every entry as an Entry (twelve fields, datetimes, the
renewals' JSON decoded): about 1 GB and 15-40 s for a million-entry list, on a device with
a few GB. Matching needs only the plate text until a read hits, and reads hit rarely, so
`load_matcher` keeps a dict of plate text -> the lists holding it (one bit per list, a
small int Python shares) and `StoredPlates.get` reads the entries of a hit plate from the
store then (hotlist_entries_plate index: one indexed query, on whichever thread matches,
each with its own connection). Patterns are few and kept whole, as Matcher keeps them.

The entries read on a hit are those stored now, on the lists that held the plate when the
index was built: an entry removed since does not hit, one changed since shows its new
details. The rows are streamed (`fetchmany`), never a list of a million tuples, and read
in one transaction with the lists version, so the version names exactly what was loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import Entry, Hotlist, to_rfc3339, utc_now
from appliance.hotlists.repository import _ENTRY_COLUMNS, _LIST_COLUMNS, _entry_of, _list_of, lists_version

__all__ = ["StoredPlates", "load_matcher"]

log = logging.getLogger(__name__)

_FETCH = 10_000  # rows per fetchmany: the cursor streams, memory stays flat
_PLATES = ("SELECT plate FROM hotlist_entries WHERE list_id = ? AND (expires_at IS NULL OR expires_at > ?) "
           "AND instr(plate, '?') = 0 AND instr(plate, '*') = 0")
_PATTERNS = (f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM hotlist_entries WHERE list_id = ? "
             "AND (expires_at IS NULL OR expires_at > ?) AND (instr(plate, '?') > 0 OR instr(plate, '*') > 0) "
             "ORDER BY id")
_HIT = f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM hotlist_entries WHERE plate = ? ORDER BY id"


class StoredPlates:
    """A Matcher's PlateIndex: plate text -> a bit per list in memory, the entries read from the store on a hit."""

    def __init__(self, store, hotlists: Sequence[Hotlist], lists_of: dict[str, int]) -> None:
        self.store = store
        self._hotlists = tuple(hotlists)  # bit i is self._hotlists[i], in the matcher's list order
        self._position = {h.id: i for i, h in enumerate(self._hotlists)}
        self._lists_of = lists_of

    def __len__(self) -> int:
        return len(self._lists_of)

    def __contains__(self, plate: object) -> bool:
        return plate in self._lists_of

    def get(self, plate: str, default=None) -> list[tuple[Entry, Hotlist]] | None:
        """The entries listed under `plate` on the lists that held it, list order then id; `default` for none."""
        bits = self._lists_of.get(plate)
        if not bits:
            return default
        found = []
        for row in self.store.database.execute_sql(_HIT, (plate,)):
            i = self._position.get(row[1])
            if i is not None and bits >> i & 1:
                found.append((i, _entry_of(row)))
        found.sort(key=lambda ie: ie[0])  # stable: ids stay in order within a list
        return [(e, self._hotlists[i]) for i, e in found] or default


def load_matcher(store, clock: Callable[[], datetime] = utc_now) -> tuple[int, Matcher]:
    """The lists version and a Matcher over every stored list as of that version (expired entries left out)."""
    db = store.database
    now = to_rfc3339(clock())
    with db.atomic():  # one snapshot: the version, the lists and their entries agree
        version = lists_version(store)
        hotlists = [_list_of(r) for r in db.execute_sql(f"SELECT {', '.join(_LIST_COLUMNS)} FROM hotlists "
                                                        "ORDER BY priority, id")]
        lists_of: dict[str, int] = {}
        patterns: list[tuple[Entry, Hotlist]] = []
        size = 0
        for i, hotlist in enumerate(hotlists):
            bit = 1 << i
            cursor = db.execute_sql(_PLATES, (hotlist.id, now))
            while rows := cursor.fetchmany(_FETCH):
                for (plate,) in rows:
                    lists_of[plate] = lists_of.get(plate, 0) | bit
                size += len(rows)
            patterns += [(_entry_of(r), hotlist) for r in db.execute_sql(_PATTERNS, (hotlist.id, now))]
    matcher = Matcher.indexed(hotlists, StoredPlates(store, hotlists, lists_of), patterns, size + len(patterns), clock)
    log.debug("stored matcher loaded: %d plates, %d patterns, %d lists", len(lists_of), len(patterns), len(hotlists))
    return version, matcher
