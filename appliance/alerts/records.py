"""Alerts in the store: written with their read in one transaction, listed, acknowledged.

`record_read` is the writer thread's one write per vehicle pass. With hits, one
transaction holds: the alerts' outbox seqs (reserved first, a write, so the transaction
takes the write lock at once: see store/outbox.py), the read with hit=True and its own
outbox entry (Store.add_read, nested as a savepoint), the alert rows and their outbox
entries (priority 0: the hub gets them before any read queued earlier). A power cut
leaves either all of it or none: never an alert for a read that is not stored, nor a
stored hit the hub will not hear about.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime

from appliance.alerts.model import OUTCOMES, Alert, AlertError
from appliance.hotlists.model import Entry, Hit, Hotlist, from_rfc3339, to_rfc3339
from appliance.ids import uuid7
from appliance.store import outbox

__all__ = ["record_read", "open_alerts", "get_alert", "acknowledge", "alerts_for_read"]

log = logging.getLogger(__name__)

_COLUMNS = ("id", "seq", "read_id", "kind", "read_text", "matched_text", "substituted", "uncertain", "score",
            "entry", "hotlist", "created_at", "retrospective", "acknowledged_at", "acknowledged_by", "outcome", "note")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM alerts"
MAX_LIMIT = 1000


def record_read(store, read, hits: Sequence[Hit], now: datetime) -> list[Alert]:
    """Store `read` (hit=True when there are hits) and one Alert per hit, in one transaction."""
    if not hits:
        store.add_read(read, hit=False)
        return []
    db = store.database
    with db.atomic():
        seqs = outbox.next_seqs(db, "alert", len(hits))  # first: takes the write lock
        store.add_read(read, hit=True)
        alerts = [Alert.of_hit(uuid7(), seq, h, now) for h, seq in zip(hits, seqs)]
        db.cursor().executemany(
            f"INSERT INTO alerts ({', '.join(_COLUMNS[:13])}, entry_id, list_id) VALUES ({', '.join('?' * 15)})",
            [(a.id, a.seq, read.id, a.kind, a.read_text, a.matched_text, json.dumps(a.substituted),
              json.dumps(a.uncertain), a.score, json.dumps(a.entry.to_dict()), json.dumps(a.hotlist.to_dict()),
              to_rfc3339(now), int(a.retrospective), a.entry.id, a.hotlist.id) for a in alerts])
        outbox.enqueue(db, "alert", [(a.id, a.seq) for a in alerts], now, [a.to_item() for a in alerts])
    log.warning("hotlist alert: read %s hit %d entr%s", read.id, len(alerts), "y" if len(alerts) == 1 else "ies")
    return alerts


def _alert(row: Sequence) -> Alert:
    d = dict(zip(_COLUMNS, row))
    return Alert(d["id"], d["seq"], d["read_id"], d["kind"], d["read_text"], d["matched_text"],
                 tuple(json.loads(d["substituted"])), tuple(json.loads(d["uncertain"])), d["score"],
                 Entry.from_dict(json.loads(d["entry"])), Hotlist.from_dict(json.loads(d["hotlist"])),
                 from_rfc3339(d["created_at"]), bool(d["retrospective"]),
                 None if d["acknowledged_at"] is None else from_rfc3339(d["acknowledged_at"]),
                 d["acknowledged_by"], d["outcome"], d["note"])


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
    return limit


def open_alerts(store, limit: int = 100) -> list[Alert]:
    """Alerts not yet acknowledged, newest first."""
    rows = store.database.execute_sql(f"{_SELECT} WHERE acknowledged_at IS NULL ORDER BY created_at DESC, id DESC "
                                      "LIMIT ?", (_limit(limit),)).fetchall()
    return [_alert(r) for r in rows]


def alerts_for_read(store, read_id: str) -> list[Alert]:
    """Every alert raised on one read."""
    return [_alert(r) for r in store.database.execute_sql(f"{_SELECT} WHERE read_id = ? ORDER BY seq", (read_id,))]


def get_alert(store, alert_id: str) -> Alert | None:
    row = store.database.execute_sql(f"{_SELECT} WHERE id = ?", (alert_id,)).fetchone()
    return None if row is None else _alert(row)


def acknowledge(store, alert_id: str, outcome: str, user: str, now: datetime, note: str = "") -> Alert:
    """Close an open alert with its outcome, who and when (POLICY HL-3); refused twice or without an outcome."""
    if outcome not in OUTCOMES:
        raise AlertError(f"outcome must be one of {', '.join(OUTCOMES)}; got {outcome!r}")
    if not isinstance(user, str) or not user.strip():
        raise AlertError("an acknowledgement needs the username of who makes it")
    db = store.database
    with db.atomic():
        n = db.execute_sql("UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ?, outcome = ?, note = ? "
                           "WHERE id = ? AND acknowledged_at IS NULL",
                           (to_rfc3339(now), user.strip(), outcome, (note or "").strip()[:500], alert_id)).rowcount
    if n != 1:
        existing = get_alert(store, alert_id)
        if existing is None:
            raise AlertError(f"there is no alert {alert_id}")
        raise AlertError(f"alert {alert_id} was already acknowledged by {existing.acknowledged_by} "
                         f"({existing.outcome}); an outcome is recorded once")
    log.info("alert %s acknowledged by %s: %s", alert_id, user, outcome)
    return get_alert(store, alert_id)  # type: ignore[return-value]
