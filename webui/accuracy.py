"""The accuracy report page and its CSV (POLICY HL-4): misread and stale-entry outcomes per list and look-alike pair.

Aggregates only, no plate text: supervisors and administrators read it to decide which
lists need a fresher source and which look-alike pairs a list should not match.
The period is ?days=N (default 30, at most 366) up to now.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, render_template, request

from appliance.alerts.accuracy import accuracy, to_csv
from appliance.alerts.model import OUTCOMES
from appliance.alerts.records import alerts_between
from webui.state import web_state

bp = Blueprint("accuracy", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _period():
    text = request.args.get("days", "").strip()
    try:
        days = int(text) if text else DEFAULT_DAYS
    except ValueError:
        days = -1
    if not 1 <= days <= MAX_DAYS:
        return None, f"days must be a whole number from 1 to {MAX_DAYS}; got {text!r}"
    now = web_state().clock()
    return (now - timedelta(days=days), now, days), ""


@bp.route("/alerts/accuracy")
def page():
    """Outcomes per list, look-alike pair and match kind over the last ?days=N days."""
    period, error = _period()
    if period is None:
        return render_template("accuracy.html", report=None, error=error, outcomes=OUTCOMES, days=DEFAULT_DAYS), 400
    since, until, days = period
    report = accuracy(alerts_between(web_state().store, since, until))
    return render_template("accuracy.html", report=report, error="", outcomes=OUTCOMES, days=days,
                           since=since.strftime("%Y-%m-%d %H:%M"), until=until.strftime("%Y-%m-%d %H:%M"))


@bp.route("/alerts/accuracy.csv")
def as_csv():
    """The same report as CSV."""
    period, error = _period()
    if period is None:
        return Response(error + "\n", 400, mimetype="text/plain")
    since, until, days = period
    body = to_csv(accuracy(alerts_between(web_state().store, since, until)))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename=alert-accuracy-{days}d.csv"})
