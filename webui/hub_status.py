"""The hub link's rows on the health page: outbox backlog and hotlist sync, read from the store.

Read from the store rather than from the device process, so `alpr serve` (a process of
its own) shows them too: the backlog is the outbox itself, the hotlists' age and last sync
error are the sync state appliance/hub/hotlist_sync.py keeps (schema v11).
"""

from __future__ import annotations

import logging
from datetime import datetime

from appliance.hub.hotlist_sync import sync_status

log = logging.getLogger(__name__)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def hub_rows(store, now: datetime) -> list[tuple[str, str]]:
    """(label, value) rows: backlog count, per kind and oldest age; hotlists' age, size and last error."""
    try:
        b = store.outbox_backlog()
        s = sync_status(store, now)
    except Exception:  # the page must render whatever the store says
        log.exception("could not read the hub link's state")
        return [("Hub link", "state unavailable (see the log)")]
    rows = [("Not yet at the hub", str(b.count)),
            ("Waiting, by kind", ", ".join(f"{k} {n}" for k, n in sorted(b.by_kind.items())) or "none"),
            ("Oldest waiting", _age(None if b.oldest is None else (now - b.oldest).total_seconds()))]
    if not s:
        return rows + [("Hotlists from the hub", "never fetched")]
    rows += [("Hotlists confirmed by the hub", f"{_age(s['hotlists_age_s'])} ago" if s["hotlists_age_s"] is not None
              else "never"),
             ("Hotlists from the hub", f"{s['hotlists_lists']} lists, {s['hotlists_entries']} entries, "
                                       f"{s['hotlists_skipped']} skipped"),
             ("Hotlist sync error", s["hotlists_last_error"] or "none")]
    return rows
