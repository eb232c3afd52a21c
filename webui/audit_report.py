"""The audit report page and its CSV (POLICY AR-1), for auditors: searches over a period, flagged.

The flags themselves are appliance/audit/report.py; this module picks the period and the
filters from the query string (dates are UTC days, `until` inclusive), looks up who was
trained on which day, and records that the log was read (LG-6), failing closed.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

from flask import Blueprint, Response, render_template, request

from appliance import training, users
from appliance.audit import records, report
from appliance.csv_cells import spreadsheet_safe
from webui import recording
from webui.state import web_state

bp = Blueprint("audit_report", __name__)

DEFAULT_DAYS = 30
MAX_DAYS = 731


def trained_lookup(store):
    """(username, day) -> whether the user had a current training record that day (cached per call)."""
    @lru_cache(maxsize=4096)
    def trained(username: str, day: date) -> bool:
        user = users.find_user(store, username)
        return user is not None and training.current_record(store, user.id, day) is not None
    return trained


def _day(name: str, default: date) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date like 2026-12-01; got {text[:40]!r}") from None


def _filters() -> dict:
    """The period and filters asked for; ValueError naming what is wrong."""
    today = web_state().clock().astimezone(timezone.utc).date()
    since = _day("since", today - timedelta(days=DEFAULT_DAYS - 1))
    until = _day("until", today)
    if until < since:
        raise ValueError(f"until ({until}) is before since ({since})")
    if (until - since).days >= MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days; got {(until - since).days + 1}")
    args = request.args
    return {"user": args.get("user", "").strip()[:64], "purpose": args.get("purpose", "").strip()[:80],
            "case": args.get("case", "").strip()[:40],
            "since": datetime.combine(since, time(), timezone.utc),
            "until": datetime.combine(until + timedelta(days=1), time(), timezone.utc)}


def _rows(filters: dict) -> list[report.Row]:
    store = web_state().store
    return report.report(records.searches_between(store, filters["since"], filters["until"]),
                         hours=web_state().working_hours,
                         trained=trained_lookup(store), **filters)


def _recorded(fmt: str, filters: dict) -> bool:
    query = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in filters.items() if v} | {"format": fmt}
    try:
        recording.record(action="audit report", purpose_category="audit review", query=query, result_count=0)
    except recording.RecordRefused:
        return False
    return True


@bp.route("/audit/report")
def page():
    """The report: counts by user, purpose and case, then every search with its flags."""
    try:
        filters = _filters()
    except ValueError as e:
        return render_template("audit_report.html", error=str(e), rows=[], summary=None, args=request.args,
                               hours=web_state().working_hours, purposes=records.PURPOSES), 400
    if not _recorded("page", filters):
        return recording.refused()
    rows = _rows(filters)
    return render_template("audit_report.html", error="", rows=rows, summary=report.summary(rows),
                           args=request.args, hours=web_state().working_hours, purposes=records.PURPOSES,
                           flagged=sum(1 for r in rows if r.flags))


@bp.route("/audit/report.csv")
def csv_export():
    """The same report as CSV."""
    try:
        filters = _filters()
    except ValueError as e:
        return Response(f"{e}\n", status=400, mimetype="text/plain")
    if not _recorded("csv", filters):
        return recording.refused()
    out = io.StringIO()
    w = csv.writer(out)
    for i, row in enumerate(report.csv_rows(_rows(filters))):
        w.writerow(row if i == 0 else [spreadsheet_safe(v) for v in row])
    name = f"audit-report-{web_state().clock().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return Response(out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'})
