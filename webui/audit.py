"""The auditor's pages: recent access records, the chain's state, and a CSV export (POLICY LG-3, AR-1).

Read-only: no role can change or delete a record (AC-2), and looking at the log is itself
recorded (LG-6, "reads of the log"), so the page is refused when that record cannot be written.
"""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request

from appliance.audit import records, signing
from appliance.csv_cells import spreadsheet_safe
from webui import recording
from webui.state import web_state

bp = Blueprint("audit", __name__)

ON_PAGE = 200
COLUMNS = ("n", "id", "at", "username", "agency", "action", "query", "purpose_category", "purpose_text",
           "case_number", "client", "outcome", "result_count", "result_ids", "review", "prev_hash", "hash")


@bp.route("/audit")
def index():
    """The latest records, newest first, and whether the chain verifies (?full=1: the whole chain now)."""
    store = web_state().store
    full = request.args.get("full") == "1"
    try:
        recording.record(action="audit review", purpose_category="audit review",
                         query={"page": "audit", **({"full": True} if full else {})}, result_count=0)
    except recording.RecordRefused:
        return recording.refused()
    ok, bad, why = web_state().chain_check.run(store, signing.device_public_key(store.key_folder), full=full)
    return render_template("audit.html", rows=records.latest(store, ON_PAGE), ok=ok, bad=bad, why=why)


@bp.route("/audit/records.csv")
def export():
    """Every record in chain order as CSV (the export is recorded first)."""
    store = web_state().store
    try:
        recording.record(action="audit export", purpose_category="audit review", query={"format": "csv"},
                         result_count=0)
    except recording.RecordRefused:
        return recording.refused()
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in records.all_records(store):
        d = records.as_dict(r)
        w.writerow([spreadsheet_safe(d[c]) for c in COLUMNS])
    name = f"access-records-{web_state().clock().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
