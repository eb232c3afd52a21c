"""Retrospective matching: a new or changed hotlist entry checked against the reads of the last days.

A stolen-car report often reaches the list after the car drove past ("seen 3 days ago").
Whenever the lists change (an import, a sync, an edit in the UI: `lists_version` moves),
every read of the last `window` (default 7 days, well inside the 30 days non-hit reads
stay on the device, POLICY RT-1) is matched again with the writer's own Matcher, and a
hit that no alert has covered yet raises an alert marked retrospective through the same
path as a live one: stored with its outbox entry ahead of every queued read, then the
relay and LED sinks.

What counts as already covered, so a re-import does not alert twice: a read that alerted
on (or was noted as a repeat of) the same entry, or the same plate on the same list. An
entry that alerted on any read in the window raises nothing retrospective: the officer
heard about that car already. Several reads of one car in the window make one alert, on
the newest read; the others are noted on it as repeats (a pattern entry groups by plate).

Cost: one match per read in the window (~30-70 us each with the JSON decoding, a few
seconds for 70,000 reads) per list change, on the alert-watch thread (watch.py), never on
the pipeline's writer thread. It runs once at start as well, which is harmless: covered
hits stay covered.

The writer keeps matching against the old lists while the new Matcher is built on its own
thread (repository.MatcherCache), so reads stored between a list change and the swap were
never checked against the change. `check()` covers them: it waits for the new Matcher
(`writer.matcher`), then for the writer to finish storing a read it may have matched with
the old one (`writer.settled()`), and only then scans, so every such read is in the store
and in the window. A read that hits an added entry thus alerts exactly once: live when the
writer already had the new Matcher (the scan finds it covered), retrospectively when not
(the read is stored with no alert on that entry). Reads matched against the empty Matcher
before a failed first build are covered the same way: the first check always scans.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.alerts.model import Alert
from appliance.alerts.records import already_alerted, record_retrospective
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import Hit, from_rfc3339, to_rfc3339, utc_now
from appliance.hotlists.repository import lists_version
from appliance.types import Alternative

__all__ = ["RetroMatcher", "RETRO_WINDOW", "recent_reads"]

log = logging.getLogger(__name__)

RETRO_WINDOW = timedelta(days=7)
_PAGE = 2000


@dataclass(frozen=True, slots=True)
class _RecentRead:
    """What matching needs of a stored read, without building the whole StoredRead."""

    id: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    alternatives: tuple[Alternative, ...]
    last_seen: datetime


def recent_reads(store, since: datetime) -> Iterator[_RecentRead]:
    """Reads last seen at or after `since`, oldest first, fetched a page at a time."""
    after = ""
    while True:
        rows = store.database.execute_sql(
            "SELECT id, text, confidence, char_confidences, alternatives, last_seen FROM reads "
            "WHERE last_seen >= ? AND id > ? ORDER BY id LIMIT ?", (to_rfc3339(since), after, _PAGE)).fetchall()
        for r in rows:
            yield _RecentRead(r[0], r[1], r[2], tuple(json.loads(r[3])),
                              tuple(Alternative(a["text"], a["score"]) for a in json.loads(r[4])), from_rfc3339(r[5]))
        if len(rows) < _PAGE:
            return
        after = rows[-1][0]


class RetroMatcher:
    """Re-matches recent reads when the lists change; `check()` is cheap when they have not."""

    def __init__(self, store, writer, *, window: timedelta = RETRO_WINDOW,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if not isinstance(window, timedelta) or window <= timedelta(0):
            raise ValueError(f"the retrospective window must be a positive time span; got {window!r}")
        self.store = store
        self.writer = writer  # an AlertingWriter: its matcher, its sinks
        self.window = window
        self.clock = clock
        self._seen_version = -1

    def forget(self) -> None:
        """Scan again at the next check (after a failed scan)."""
        self._seen_version = -1

    def check(self) -> list[Alert]:
        """Scan when the lists changed since the last check (and on the first call); the alerts raised."""
        version = lists_version(self.store)
        if version == self._seen_version:
            return []
        matcher = self.writer.matcher  # waits for the Matcher of (at least) `version`
        self.writer.settled()  # reads matched against the old lists are stored now: the scan sees them
        alerts = self.scan(matcher)
        self._seen_version = version
        return alerts

    def scan(self, matcher: Matcher | None = None) -> list[Alert]:
        """Match every read of the window now; store and signal one retrospective alert per new hit group."""
        now = self.clock()
        matcher = matcher or self.writer.matcher
        groups: dict[tuple[str, str], list[tuple[_RecentRead, Hit]]] = {}
        covered: set[tuple[str, str]] = set()
        for read in recent_reads(self.store, now - self.window):
            hits = matcher.match(read)
            if not hits:
                continue
            done = already_alerted(self.store, read.id)
            for h in hits:
                key = (h.entry.id, h.read_text if h.entry.is_pattern else "")
                if h.entry.id in done or f"{h.hotlist.id}:{h.entry.plate}" in done:
                    covered.add(key)
                groups.setdefault(key, []).append((read, h))
        raised: list[Alert] = []
        for key, found in groups.items():
            if key in covered:
                continue
            found.sort(key=lambda rh: rh[0].last_seen)
            newest, hit = found[-1]
            others = [r.id for r, _ in found[:-1]]
            raised += record_retrospective(self.store, newest.id, newest.last_seen, [hit], now, repeats=others)
        if raised:
            self.writer.signal(raised)
        log.info("retrospective match over %s: %d alert(s)", self.window, len(raised))
        return raised
