"""The supervisor's queue of exigent searches awaiting review, and the review itself (POLICY LG-2, AC-2).

GET lists what waits (appliance/audit/review.py: exigent searches without a review record)
and is itself recorded, as it shows other users' query terms; POST records one decision
("approved" or "not justified", with a note) as a new access record naming the search.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.audit import review
from webui import recording
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("review", __name__)


def _page(error: str = "", status: int = 200):
    store = web_state().store
    return render_template("review.html", waiting=review.queue(store), done=review.reviews(store, 50),
                           decisions=review.DECISIONS, error=error), status


@bp.route("/review", methods=["GET", "POST"])
def queue():
    """The queue (GET); record a review (POST: record_id, decision, note)."""
    state = web_state()
    if request.method == "GET":
        try:
            recording.record(action="review queue", purpose_category="audit review", query={"page": "review"},
                             result_count=0)
        except recording.RecordRefused:
            return recording.refused()
        return _page()
    try:
        review.record_review(state.store, request.form.get("record_id", ""), request.form.get("decision", ""),
                             request.form.get("note", ""), reviewer=current_user.username,
                             client=request.remote_addr or "unknown", agency=state.agency, at=state.clock())
    except review.ReviewError as e:
        return _page(str(e), 400)
    except Exception:  # the record could not be written: nothing was reviewed (LG-4)
        log.exception("could not write an exigent review; nothing was reviewed")
        return recording.refused()
    return redirect(url_for("review.queue"), 303)
