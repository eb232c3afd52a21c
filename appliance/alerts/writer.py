"""AlertingWriter: the pipeline's `write_read` that checks each read against the hotlists first.

It runs on the pipeline's store-writer thread, where every Read is one vehicle pass
(the tracker's job), so each pass is matched exactly once. The read and its alerts are
stored in one transaction (records.record_read); only then are the sinks told (the relay,
the LED), so an alert that rang at the pole is always one the hub and the UI will see.
A matcher failure never loses the read: it is stored without alerts and the error logged.
A hit on an entry that alerted for the same car within `suppress_window` is noted on
that alert instead of raising another (records.py says why the tracker alone is not enough).
With a MatcherCache the writer never builds a matcher: it matches against the one built
last while a changed list is indexed on another thread (repository.MatcherCache), and
`settled()` lets the retrospective matcher wait until no read matched against the old
lists is still being stored, so its scan sees them all (retro.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from appliance.alerts.model import Alert
from appliance.alerts.records import SUPPRESS_WINDOW, record_read
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import utc_now
from appliance.hotlists.repository import MatcherCache

__all__ = ["AlertingWriter"]

log = logging.getLogger(__name__)


class AlertingWriter:
    """`write_read` for Pipeline: match, store read + alerts atomically, then signal the sinks.

    `matcher` is a MatcherCache (reads are matched against `latest()`, the retrospective
    matcher gets `current()`), a callable returning the Matcher to use (called for every
    read and by the retrospective matcher) or a Matcher itself.
    """

    def __init__(self, store, matcher: MatcherCache | Callable[[], Matcher] | Matcher,
                 sinks: Sequence[Callable[[Alert], None]] = (), clock: Callable[[], datetime] = utc_now,
                 suppress_window: timedelta = SUPPRESS_WINDOW) -> None:
        self.store = store
        self.suppress_window = suppress_window
        if isinstance(matcher, MatcherCache):
            self._latest, self._current = matcher.latest, matcher.current
        else:
            self._latest = self._current = matcher if callable(matcher) and not isinstance(matcher, Matcher) \
                else (lambda: matcher)
        self._writing = threading.Lock()  # held from choosing the matcher until the read is stored
        self.sinks = list(sinks)
        self.clock = clock
        self.alerts = 0

    def __call__(self, read) -> list[Alert]:
        with self._writing:
            try:
                hits = self._latest().match(read)
            except Exception:
                log.exception("hotlist matching failed for read %s; stored without alerts", read.id)
                hits = []
            alerts = record_read(self.store, read, hits, self.clock(), self.suppress_window)
        self.signal(alerts)
        return alerts

    @property
    def matcher(self) -> Matcher:
        """The Matcher for the lists as stored now, waiting for a rebuild in progress (never on the writer thread).

        The retrospective matcher shares it: one index in memory.
        """
        return self._current()

    def settled(self) -> None:
        """Return once no read matched with an earlier Matcher is still being stored (at most one read's write)."""
        with self._writing:
            pass

    def signal(self, alerts: Sequence[Alert]) -> None:
        """Tell every sink about stored alerts; a failing sink never stops the others."""
        self.alerts += len(alerts)
        for alert in alerts:
            for sink in self.sinks:
                try:
                    sink(alert)
                except Exception:
                    log.exception("alert sink %r failed for alert %s", sink, alert.id)
