"""The auditor's pages: recent access records, the chain's state, and a CSV export (POLICY LG-3, AR-1).

Read-only: no role can change or delete a record (AC-2), and looking at the log is itself
recorded (LG-6, "reads of the log"), so the page is refused when that record cannot be written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Blueprint, Response, render_template, request, stream_with_context

from appliance.audit import records, signing
from appliance.csv_cells import spreadsheet_safe
from webui import recording
from webui.state import web_state

bp = Blueprint("audit", __name__)

ON_PAGE = 200
CHUNK = 1000  # CSV rows per streamed piece
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
    """Every record in chain order as CSV (the export is recorded first), streamed in chunks.

    Two years of records can be a million rows: built in memory that would be hundreds of
    MB on a Pi, so the rows are written CHUNK at a time as the client takes them.
    """
    store = web_state().store
    try:
        recording.record(action="audit export", purpose_category="audit review", query={"format": "csv"},
                         result_count=0)
    except recording.RecordRefused:
        return recording.refused()
    name = f"access-records-{web_state().clock().strftime('%Y%m%dT%H%M%SZ')}.csv"
    return Response(stream_with_context(_csv_chunks(store)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _csv_chunks(store) -> Iterator[str]:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for i, r in enumerate(records.all_records(store), 1):
        d = records.as_dict(r)
        w.writerow([spreadsheet_safe(d[c]) for c in COLUMNS])
        if i % CHUNK == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
