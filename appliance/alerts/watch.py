"""AlertWatch: the device process's alert housekeeping thread ("alert-watch").

Two jobs that need the device's outputs and the store, and no read to trigger them:
- retrospective matching when the lists change (retro.py);
- the status LED leaving the ALERT pattern once the last open alert is acknowledged.
  Acknowledgements happen in the web UI, another process (`alpr serve`), so the device
  learns of them from the store: every `interval_s` it counts the open alerts and tells
  each sink that has `settle` (AlertSink). One indexed COUNT per interval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from appliance.alerts.records import open_count
from firmware.periodic import Periodic

__all__ = ["AlertWatch"]

log = logging.getLogger(__name__)


class AlertWatch:
    """Runs `retro.check()` and settles the sinks' LED every `interval_s` seconds until `stop()`."""

    def __init__(self, store, retro=None, sinks: Sequence[object] = (), *, interval_s: float = 2.0) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or not 0 < interval_s <= 3600:
            raise ValueError(f"alert watch interval_s must be more than 0 and at most 3600 seconds; got {interval_s!r}")
        self.store = store
        self.retro = retro
        self.sinks = [s for s in sinks if hasattr(s, "settle")]
        self.interval_s = float(interval_s)
        self._worker = Periodic("alert-watch", self.tick, self.interval_s)  # a round at once, then every interval

    def tick(self) -> None:
        """One round: retrospective check, then the LED; a failure in one never skips the other."""
        if self.retro is not None:
            try:
                self.retro.check()
            except Exception:  # retried at the next round; live matching is unaffected
                log.exception("retrospective matching failed")
                self.retro.forget()
        if self.sinks:
            n = open_count(self.store)
            for sink in self.sinks:
                sink.settle(n)

    def start(self) -> None:
        """Run `tick()` now and every `interval_s` on the "alert-watch" thread (once: a second start raises)."""
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the thread; True when it ended within `timeout`."""
        return self._worker.stop(timeout)
