"""Training records (POLICY TR-1, TR-2): no data access without a current one.

A record says who completed which course (and version), when, and the last day it counts.
Records are never edited; a renewal is a new record, so the history stays. Each one names
the administrator who entered it and writes an account event. Expiry needs no job: the
gate compares dates on every request, so data access stops the day after `expires`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from appliance.errors import AccountError
from appliance.store import Store
from appliance.store.models import TrainingRow
from appliance.store.times import to_rfc3339
from appliance.users import find_user, record_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingRecord:
    """One completed course."""

    username: str
    course: str
    version: str
    completed: date
    expires: date
    entered_by: str


def add_record(store: Store, username: str, course: str, version: str, completed: date, expires: date, *,
               actor: str, now: datetime) -> TrainingRecord:
    """Enter a completed course for `username`; logged with its author."""
    user = find_user(store, username)
    if user is None:
        raise AccountError(f"no user named {username!r}")
    course, version = course.strip(), version.strip()
    if not course or not version:
        raise AccountError("a training record needs the course name and its version")
    if completed > now.date():
        raise AccountError(f"completed date {completed} is in the future; enter the day the course was passed")
    if expires < completed:
        raise AccountError(f"expires {expires} is before completed {completed}")
    with store.database.atomic():
        TrainingRow.insert(user_id=user.id, course=course, version=version, completed=completed.isoformat(),
                           expires=expires.isoformat(), entered_by=actor, entered_at=to_rfc3339(now)).execute(store.database)
        record_event(store, actor, user.username, "training recorded",
               f"{course} {version}, completed {completed}, expires {expires}", to_rfc3339(now))
    log.info("training record for %s entered by %s", user.username, actor)
    return TrainingRecord(user.username, course, version, completed, expires, actor)


def current_record(store: Store, user_id: int, today: date) -> TrainingRecord | None:
    """The record that counts on `today` (the one lasting longest), or None: no data access."""
    day = today.isoformat()
    row = (TrainingRow.select().where((TrainingRow.user_id == user_id) & (TrainingRow.completed <= day)
                                      & (TrainingRow.expires >= day))
           .order_by(TrainingRow.expires.desc()).bind(store.database).first())
    return None if row is None else _record(store, row)


def records(store: Store, username: str) -> list[TrainingRecord]:
    """Every record of `username`, newest first."""
    user = find_user(store, username)
    if user is None:
        return []
    rows = TrainingRow.select().where(TrainingRow.user_id == user.id).order_by(TrainingRow.id.desc()).bind(store.database)
    return [_record(store, r, user.username) for r in rows]


def _record(store: Store, row: TrainingRow, username: str | None = None) -> TrainingRecord:
    if username is None:
        from appliance.users import get_user
        user = get_user(store, row.user_id)
        username = user.username if user else str(row.user_id)
    return TrainingRecord(username, row.course, row.version, date.fromisoformat(row.completed),
                          date.fromisoformat(row.expires), row.entered_by)
