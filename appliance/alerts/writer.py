"""AlertingWriter: the pipeline's `write_read` that checks each read against the hotlists first.

It runs on the pipeline's store-writer thread, where every Read is one vehicle pass
(the tracker's job), so each pass is matched exactly once. The read and its alerts are
stored in one transaction (records.record_read); only then are the sinks told (the relay,
the LED), so an alert that rang at the pole is always one the hub and the UI will see.
A matcher failure never loses the read: it is stored without alerts and the error logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from appliance.alerts.model import Alert
from appliance.alerts.records import record_read
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import utc_now

__all__ = ["AlertingWriter"]

log = logging.getLogger(__name__)


class AlertingWriter:
    """`write_read` for Pipeline: match, store read + alerts atomically, then signal the sinks.

    `matcher` is a callable returning the current Matcher (hotlists.repository.MatcherCache's
    `current`, so an import is picked up on the next read) or a Matcher itself.
    """

    def __init__(self, store, matcher: Callable[[], Matcher] | Matcher,
                 sinks: Sequence[Callable[[Alert], None]] = (), clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self._matcher = matcher if callable(matcher) and not isinstance(matcher, Matcher) else (lambda: matcher)
        self.sinks = list(sinks)
        self.clock = clock
        self.alerts = 0

    def __call__(self, read) -> list[Alert]:
        try:
            hits = self._matcher().match(read)
        except Exception:
            log.exception("hotlist matching failed for read %s; stored without alerts", read.id)
            hits = []
        alerts = record_read(self.store, read, hits, self.clock())
        self.alerts += len(alerts)
        for alert in alerts:
            for sink in self.sinks:
                try:
                    sink(alert)
                except Exception:
                    log.exception("alert sink %r failed for alert %s", sink, alert.id)
        return alerts
