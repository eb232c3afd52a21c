"""Alerts in the store: written with their read in one transaction, listed, acknowledged.

`record_read` is the writer thread's one write per vehicle pass. With hits, one
transaction holds: the alerts' outbox seqs (reserved first, a write, so the transaction
takes the write lock at once: see store/outbox.py), the read with hit=True and its own
outbox entry (Store.add_read, nested as a savepoint), the alert rows and their outbox
entries (priority 0: the hub gets them before any read queued earlier). A power cut
leaves either all of it or none: never an alert for a read that is not stored, nor a
stored hit the hub will not hear about.

Repeat suppression: a hit on an entry that already alerted within `suppress_window` of
the car's last sighting makes no second alert. The read is still stored (hit=True, kept
like any hit), an alert_repeats row links it to the earlier alert, and that alert's
repeat count and last_repeat_at move on. The tracker makes one Read per vehicle pass,
but not one per vehicle: a parked car is read again every tracker.reread_interval_s
(300 s), a track broken by a lorry passing in front makes two, and a car circling the
block comes back; so the default window (10 minutes) is longer than the reread interval.
For a plate entry any read that hits it counts as the same car (ABC1O3 then ABC103 is
one car misread); for a pattern entry only the same read text does (two plates can fit
one partial plate). An earlier alert closed as confirmed or not located does not
suppress: a car that comes back after that is news to the officer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from collections.abc import Sequence
from datetime import datetime, timedelta

from appliance.alerts.model import OUTCOMES, Alert, AlertError
from appliance.hotlists.model import Entry, Hit, Hotlist, from_rfc3339, to_rfc3339
from appliance.ids import uuid7
from appliance.store import outbox

__all__ = ["record_read", "open_alerts", "get_alert", "acknowledge", "alerts_for_read", "alerts_after"]

log = logging.getLogger(__name__)

_COLUMNS = ("id", "seq", "read_id", "kind", "read_text", "matched_text", "substituted", "uncertain", "score",
            "entry", "hotlist", "created_at", "retrospective", "acknowledged_at", "acknowledged_by", "outcome", "note",
            "seen_at", "repeats", "last_repeat_at")
_INSERTED = _COLUMNS[:13] + ("seen_at", "entry_id", "list_id")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM alerts"
MAX_LIMIT = 1000
SUPPRESS_WINDOW = timedelta(minutes=10)  # > tracker.reread_interval_s (300 s): a parked car alerts once
NO_SUPPRESS_OUTCOMES = ("confirmed", "not_located")  # after these a returning car alerts again


def record_read(store, read, hits: Sequence[Hit], now: datetime,
                suppress_window: timedelta = SUPPRESS_WINDOW) -> list[Alert]:
    """Store `read` (hit=True when there are hits) and one Alert per hit not suppressed, in one transaction."""
    if not hits:
        store.add_read(read, hit=False)
        return []
    db = store.database
    seen = getattr(read, "last_seen", None) or now
    with db.atomic():
        store.add_read(read, hit=True)  # first, a write: the transaction takes the write lock at once
        fresh: list[Hit] = []
        for h in hits:
            earlier = _suppressing(db, h, seen, suppress_window)
            if earlier is None:
                fresh.append(h)
            else:
                _note_repeat(db, earlier, read.id, seen)
        seqs = outbox.next_seqs(db, "alert", len(fresh)) if fresh else []  # no gaps for suppressed hits
        alerts = [Alert.of_hit(uuid7(), seq, h, now, seen_at=seen) for h, seq in zip(fresh, seqs)]
        _insert(db, alerts, now)
    if len(fresh) < len(hits):
        log.info("read %s: %d repeat hit(s) noted on earlier alerts, no new alert", read.id, len(hits) - len(fresh))
    if alerts:
        log.warning("hotlist alert: read %s hit %d entr%s", read.id, len(alerts), "y" if len(alerts) == 1 else "ies")
    return alerts


def record_retrospective(store, read_id: str, seen_at: datetime, hits: Sequence[Hit], now: datetime,
                         repeats: Sequence[str] = ()) -> list[Alert]:
    """Alerts marked retrospective for hits on an already stored read (a new or changed entry, retro.py).

    The read becomes a hit (kept as long as hits are); `repeats` are other reads of the
    same car in the window, noted on the alert instead of alerting again.
    """
    if not hits:
        return []
    db = store.database
    with db.atomic():
        seqs = outbox.next_seqs(db, "alert", len(hits))  # first: takes the write lock
        db.execute_sql("UPDATE reads SET hit = 1 WHERE id = ?", (read_id,))
        alerts = [Alert.of_hit(uuid7(), seq, h, now, retrospective=True, seen_at=seen_at) for h, seq in zip(hits, seqs)]
        _insert(db, alerts, now)
        for a in alerts:
            for other in repeats:
                db.execute_sql("UPDATE reads SET hit = 1 WHERE id = ?", (other,))
                _note_repeat(db, a, other, None)
        alerts = [replace(a, repeats=len(repeats)) for a in alerts]
    log.warning("retrospective hotlist alert: read %s hit %d entr%s", read_id, len(alerts),
                "y" if len(alerts) == 1 else "ies")
    return alerts


def _insert(db, alerts: Sequence[Alert], now: datetime) -> None:
    if not alerts:
        return
    db.cursor().executemany(
        f"INSERT INTO alerts ({', '.join(_INSERTED)}) VALUES ({', '.join('?' * len(_INSERTED))})",
        [(a.id, a.seq, a.read_id, a.kind, a.read_text, a.matched_text, json.dumps(a.substituted),
          json.dumps(a.uncertain), a.score, json.dumps(a.entry.to_dict()), json.dumps(a.hotlist.to_dict()),
          to_rfc3339(now), int(a.retrospective), to_rfc3339(a.seen_at or now), a.entry.id, a.hotlist.id)
         for a in alerts])
    outbox.enqueue(db, "alert", [(a.id, a.seq) for a in alerts], now, [a.to_item() for a in alerts])


def _suppressing(db, hit: Hit, seen: datetime, window: timedelta) -> Alert | None:
    """The earlier alert that makes this hit a repeat, or None (see the module docstring)."""
    if window <= timedelta(0):
        return None
    since = to_rfc3339(seen - window - timedelta(days=1))  # created_at bounds the scan; sightings decide
    sql = f"{_SELECT} WHERE entry_id = ? AND created_at >= ?"
    args: tuple = (hit.entry.id, since)
    if hit.entry.is_pattern:
        sql += " AND read_text = ?"
        args += (hit.read_text,)
    for a in (_alert(r) for r in db.execute_sql(sql + " ORDER BY created_at DESC LIMIT 20", args)):
        if a.outcome in NO_SUPPRESS_OUTCOMES:
            continue
        if abs(seen - a.last_hit_at) <= window:
            return a
    return None


def _note_repeat(db, alert: Alert, read_id: str, seen: datetime | None) -> None:
    db.execute_sql("INSERT OR IGNORE INTO alert_repeats (read_id, alert_id, at) VALUES (?, ?, ?)",
                   (read_id, alert.id, to_rfc3339(seen or alert.created_at)))
    if seen is not None:
        db.execute_sql("UPDATE alerts SET repeats = repeats + 1, last_repeat_at = MAX(COALESCE(last_repeat_at, ''), ?) "
                       "WHERE id = ?", (to_rfc3339(seen), alert.id))
    else:
        db.execute_sql("UPDATE alerts SET repeats = repeats + 1 WHERE id = ?", (alert.id,))


def already_alerted(store, read_id: str) -> set[str]:
    """Entry ids (and "list_id:plate" keys) this read already alerted on or was noted as a repeat of."""
    out: set[str] = set()
    for entry_id, list_id, entry in store.database.execute_sql(
            "SELECT entry_id, list_id, entry FROM alerts WHERE read_id = ? UNION "
            "SELECT a.entry_id, a.list_id, a.entry FROM alert_repeats r JOIN alerts a ON a.id = r.alert_id "
            "WHERE r.read_id = ?", (read_id, read_id)):
        out.add(entry_id)
        out.add(f"{list_id}:{json.loads(entry)['plate']}")
    return out


def _alert(row: Sequence) -> Alert:
    d = dict(zip(_COLUMNS, row))
    return Alert(d["id"], d["seq"], d["read_id"], d["kind"], d["read_text"], d["matched_text"],
                 tuple(json.loads(d["substituted"])), tuple(json.loads(d["uncertain"])), d["score"],
                 Entry.from_dict(json.loads(d["entry"])), Hotlist.from_dict(json.loads(d["hotlist"])),
                 from_rfc3339(d["created_at"]), bool(d["retrospective"]), _time(d["acknowledged_at"]),
                 d["acknowledged_by"], d["outcome"], d["note"], _time(d["seen_at"]), d["repeats"],
                 _time(d["last_repeat_at"]))


def _time(s: str | None) -> datetime | None:
    return None if s is None else from_rfc3339(s)


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
    return limit


def open_alerts(store, limit: int = 100) -> list[Alert]:
    """Alerts not yet acknowledged, newest first."""
    rows = store.database.execute_sql(f"{_SELECT} WHERE acknowledged_at IS NULL ORDER BY created_at DESC, id DESC "
                                      "LIMIT ?", (_limit(limit),)).fetchall()
    return [_alert(r) for r in rows]


def open_count(store) -> int:
    """How many alerts wait for acknowledgement (the every-page banner, the LED)."""
    (n,) = store.database.execute_sql("SELECT COUNT(*) FROM alerts WHERE acknowledged_at IS NULL").fetchone()
    return int(n)


def alerts_between(store, since: datetime, until: datetime) -> list[Alert]:
    """Every alert created in [since, until), oldest first (the accuracy report)."""
    return [_alert(r) for r in store.database.execute_sql(
        f"{_SELECT} WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
        (to_rfc3339(since), to_rfc3339(until)))]


def alerts_for_read(store, read_id: str) -> list[Alert]:
    """Every alert raised on one read."""
    return [_alert(r) for r in store.database.execute_sql(f"{_SELECT} WHERE read_id = ? ORDER BY seq", (read_id,))]


def alerts_after(store, seq: int, limit: int = 100) -> list[Alert]:
    """Alerts whose seq is above `seq`, in seq order (the hub pull API's pages)."""
    rows = store.database.execute_sql(f"{_SELECT} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, _limit(limit))).fetchall()
    return [_alert(r) for r in rows]


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
