"""The review of exigent searches (POLICY LG-2, AC-2): a supervisor's decision is a new access record.

An exigent search is recorded with review "required" (webui/search.py). A supervisor
records a decision, "approved" or "not justified", with a note, as a record of its own
(action and category "exigent review") that names the reviewed record in `result_ids`
and `query.reviews`: records are append-only, so the search's record never changes. The
queue is every record still waiting: review "required" and no review record naming it.
Nobody reviews their own search.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from appliance.audit import records
from appliance.audit.records import REVIEW, AccessRecord, StoredRecord
from appliance.errors import AlprError

log = logging.getLogger(__name__)

DECISIONS = ("approved", "not justified")
MAX_NOTE = 1000


class ReviewError(AlprError, ValueError):
    """A review that cannot be recorded as asked (unknown record, already reviewed, own search ...)."""


def reviewed_ids(store_or_db: Any) -> set[str]:
    """The ids of records that have a review record."""
    db = records._database(store_or_db)
    rows = db.execute_sql("SELECT result_ids FROM access_records WHERE action = ?", (REVIEW,))
    return {i for (ids,) in rows for i in json.loads(ids)}


def queue(store_or_db: Any) -> list[StoredRecord]:
    """The records awaiting review, oldest first."""
    done = reviewed_ids(store_or_db)
    db = records._database(store_or_db)
    waiting = records._rows(db, f"{records._SELECT} WHERE review = 'required' ORDER BY n")
    return [r for r in waiting if r.id not in done]


def record_review(store_or_db: Any, reviewed_id: str, decision: str, note: str, *, reviewer: str, client: str,
                  agency: str = "", at: datetime | None = None) -> StoredRecord:
    """Append the review of record `reviewed_id`; ReviewError says what is wrong when it cannot be."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}; got {decision!r}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ReviewError(f"the note is at most {MAX_NOTE} characters; got {len(note)}")
    if decision == "not justified" and len(note) < 10:
        raise ReviewError("say in the note (10 characters or more) why the search was not justified")
    db = records._database(store_or_db)
    with db.atomic("IMMEDIATE"):  # the check and the record in one transaction: never two reviews of one search
        target = records.get(db, reviewed_id) if isinstance(reviewed_id, str) and len(reviewed_id) <= 36 else None
        if target is None:
            raise ReviewError(f"there is no access record {reviewed_id!r}")
        if target.review != "required":
            raise ReviewError(f"access record {reviewed_id} is not an exigent search awaiting review")
        if reviewed_id in reviewed_ids(db):
            raise ReviewError(f"access record {reviewed_id} has already been reviewed")
        if target.username == reviewer:
            raise ReviewError("nobody reviews their own exigent search; another supervisor must")
        rec = records.append(db, AccessRecord(
            username=reviewer, action=REVIEW, client=client, purpose_category=REVIEW, agency=agency, at=at,
            purpose_text=note, case_number=target.case_number, result_ids=[reviewed_id], result_count=1,
            query={"reviews": reviewed_id, "decision": decision, "searched_by": target.username}))
    log.info("exigent search %s reviewed by %s: %s", reviewed_id, reviewer, decision)
    return rec


def reviews(store_or_db: Any, limit: int = 100) -> list[StoredRecord]:
    """The latest review records, newest first."""
    db = records._database(store_or_db)
    return list(records._rows(db, f"{records._SELECT} WHERE action = ? ORDER BY n DESC LIMIT ?", [REVIEW, limit]))
