"""Writing access records from the web UI (POLICY LG-1, LG-2, LG-4): who, from where, and fail closed.

`record` adds the signed-in user, the agency and the client address to an AccessRecord
and appends it; when it cannot be written it raises RecordRefused, which the caller turns
into the 503 page `refused()` (the data is not shown). The latest-reads and alerts pages
record one "live monitoring" access per session (`live_monitoring`); the crops those pages
and the search page show name that record (`?via=<id>`), so a crop shown under a record
that already lists it is not recorded again, while any other image view is.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import render_template, request, session
from flask_login import current_user

from appliance.audit import records
from appliance.audit.records import AccessRecord, StoredRecord
from appliance.errors import AlprError
from webui.state import web_state

log = logging.getLogger(__name__)


class RecordRefused(AlprError, RuntimeError):
    """The access record could not be written, so the access is refused (LG-4)."""


def record(db: Any = None, **fields: Any) -> StoredRecord:
    """Append a record for the signed-in user (in `db`'s open transaction when given); RecordRefused if it fails."""
    state = web_state()
    rec = AccessRecord(username=current_user.username, agency=state.agency, client=request.remote_addr or "unknown",
                       at=state.clock(), **fields)
    try:
        return records.append(db if db is not None else state.store, rec)
    except Exception as e:
        log.exception("could not write an access record (%s); the access is refused", fields.get("action"))
        raise RecordRefused("the access record could not be written") from e


def refused():
    """The page shown instead of data whose access could not be recorded."""
    return render_template("error.html", title="Not recorded, so not shown",
                           message="The access record could not be written, so this request is refused "
                                   "(every access to plate data must be recorded). Try again, or tell an "
                                   "administrator if it keeps happening."), 503


def live_monitoring(page: str) -> str:
    """The id of this session's "live monitoring" record, written on the first live page it opens."""
    existing = session.get("live_record")
    if isinstance(existing, str):
        return existing
    rec = record(action="live monitoring", purpose_category=records.LIVE_MONITORING, query={"page": page},
                 result_count=0)
    session["live_record"] = rec.id
    return rec.id


def covered(via: str | None, read_id: str, kind: str = "crop") -> bool:
    """Whether an access record of this user and session already covers showing `read_id`'s image `kind`.

    Crops are covered by the page that listed the read; a frame only by a read view (the
    detail page, whose record says the full image was shown).
    """
    if not via or len(via) > 36:
        return False
    if kind != "crop":
        rec = records.get(web_state().store, via)
        return (rec is not None and rec.action == "read view" and rec.username == current_user.username
                and rec.outcome == "ok" and rec.result_ids == [read_id])
    if via == session.get("live_record"):  # the live pages' crops: the latest reads and open alerts only
        state = web_state()
        if any(r.id == read_id for r in state.store.latest_reads(state.reads_on_page)):
            return True
        from appliance.alerts import open_alerts
        return any(a.read_id == read_id for a in open_alerts(state.store))
    rec = records.get(web_state().store, via)
    return (rec is not None and rec.username == current_user.username and rec.outcome == "ok"
            and read_id in rec.result_ids)
