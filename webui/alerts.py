"""The alert page: open alerts with what the officer needs to verify them, and their acknowledgement.

One endpoint, no id in the path: GET lists the open alerts (each with its acknowledgement
form), POST records one outcome and comes back (POLICY HL-2, HL-3). An alert leaves the
page only through an acknowledgement with an outcome, recorded with user and time.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from appliance.alerts import OUTCOMES, AlertError, acknowledge, open_alerts
from appliance.alerts.records import open_count
from appliance.alerts.model import NOTICE, STALE_AFTER
from appliance.hotlists.repository import get_list
from webui import recording
from webui.state import web_state

bp = Blueprint("alerts", __name__)

OUTCOME_LABELS = {"confirmed": "Confirmed", "misread": "Misread", "stale_entry": "Stale entry",
                  "not_located": "Not located"}


def _age_text(seconds: float) -> str:
    hours = seconds / 3600
    return f"{seconds / 60:.0f} minutes" if hours < 1 else f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def _view(alert, now: datetime) -> dict:
    """What the template shows of one alert: the list's age is the list's now, if it still exists."""
    hotlist = get_list(web_state().store, alert.hotlist.id) or alert.hotlist
    age = hotlist.age(now)
    return {"alert": alert, "hotlist": hotlist, "marks": alert.text_marks(),
            "age": None if age is None else _age_text(age.total_seconds()),
            "stale": hotlist.is_stale(now, STALE_AFTER),
            "seen_ago": _age_text(max(0.0, alert.seen_ago(now).total_seconds())),
            "created": alert.created_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}


def _page(error: str = "", status: int = 200):
    state = web_state()
    now = state.clock()
    views = [_view(a, now) for a in open_alerts(state.store)]
    return render_template("alerts.html", views=views, notice=NOTICE, outcomes=OUTCOME_LABELS, error=error,
                           stale_hours=int(STALE_AFTER.total_seconds() // 3600)), status


@bp.route("/alerts", methods=["GET", "POST"])
def index():
    """Open alerts (GET); acknowledge one with an outcome (POST: alert id, outcome, optional note)."""
    if request.method == "GET":
        try:  # watching alerts is live monitoring too (POLICY LG-2): one record per session
            recording.live_monitoring("alerts")
        except recording.RecordRefused:
            return recording.refused()
        return _page()
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOMES:
        return _page(f"Choose an outcome ({', '.join(OUTCOME_LABELS.values())}) to acknowledge the alert.", 400)
    store, alert_id = web_state().store, request.form.get("alert_id", "")
    try:  # the acknowledgement and its access record commit together, or neither does (LG-1, LG-4)
        with store.database.atomic("IMMEDIATE"):
            alert = acknowledge(store, alert_id, outcome, current_user.username, web_state().clock(),
                                request.form.get("note", ""))
            recording.record(store.database, action="alert acknowledgement",
                             purpose_category="alert acknowledgement", query={"alert_id": alert_id, "outcome": outcome},
                             result_ids=[alert.read_id])
    except AlertError as e:
        return _page(str(e), 400)
    except recording.RecordRefused:
        return recording.refused()
    return redirect(url_for("alerts.index"), 303)


@bp.route("/alerts/summary.json")
def summary():
    """Open alerts for the every-page banner (static/alerts.js): the count and the newest, without plate text.

    No plate, so polling it is not an access to plate data; and it is not activity either
    (access.PASSIVE), so a page left open still signs out after 30 idle minutes (AC-7).
    """
    state = web_state()
    newest = open_alerts(state.store, limit=1)
    body = {"open": open_count(state.store), "newest": None}
    if newest:
        a, now = newest[0], state.clock()
        body["newest"] = {"id": a.id, "list": a.hotlist.name, "priority": a.hotlist.priority, "kind": a.kind,
                          "retrospective": a.retrospective, "created_at": a.created_at.isoformat(),
                          "seen_ago": _age_text(max(0.0, a.seen_ago(now).total_seconds()))}
    return jsonify(body)
