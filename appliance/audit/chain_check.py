"""The audit page's chain check without re-reading two years of records on every view.

`records.verify` walks every access record; on a device that keeps them for the default
730 days (a million records is plausible: every search, image view and hub pull is one)
that is tens of seconds per view. A ChainCheck walks the whole chain once, then on later
views only the records appended since, linked to the last one it walked; the whole walk
is repeated every FULL_EVERY_S, after a purge moved the anchor, after any failure, and
when the auditor asks (the page's "walk the whole chain now"). What the page says
includes when the whole chain was last walked; `alpr audit verify` always walks it all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from appliance.audit.records import Walk, verify_walk

FULL_EVERY_S = 3600.0  # the whole chain is walked again at least this often


class ChainCheck:
    """One per web app: the last intact walk, resumed on the next view (thread-safe)."""

    def __init__(self, full_every_s: float = FULL_EVERY_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.full_every_s = full_every_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last: Walk | None = None
        self._full_at = float("-inf")

    def run(self, store_or_db: Any, public_key: Any = None, *, full: bool = False) -> tuple[bool, str | None, str]:
        """(intact, first bad record id or None, why), like records.verify; `full` walks the whole chain now."""
        with self._lock:
            now = self._monotonic()
            full = full or self._last is None or not self._last.intact or now - self._full_at >= self.full_every_s
            resumed_from = None if full else self._last
            walk = verify_walk(store_or_db, public_key, resumed_from)
            if resumed_from is None or walk.anchor_n != resumed_from.anchor_n:  # a moved anchor: walked in full
                self._full_at, resumed_from = now, None
            self._last = walk
            age_min = (now - self._full_at) / 60
        if not walk.intact:
            return False, walk.bad, walk.why
        if resumed_from is None:
            return True, None, walk.why
        return True, None, (f"{walk.why} (records to number {resumed_from.n} walked in full {age_min:.0f} min ago, "
                            "the newer ones now)")
