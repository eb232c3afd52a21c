"""The landing page (latest reads, server-rendered) and the read images, each an access record.

The page is live monitoring: one record per session (POLICY LG-2, recording.py). An image
is recorded as an "image view" unless the page that showed it already recorded it (`?via=`).
"""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

from flask import Blueprint, abort, render_template, request, send_file

from appliance.store import ImageDamagedError
from appliance.store.times import to_rfc3339
from webui import recording
from webui.state import web_state

bp = Blueprint("reads", __name__)

_READ_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def utc_text(t: datetime) -> str:
    """"2026-11-30 04:21:07 UTC": what the table shows (the store keeps milliseconds)."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.route("/")
def index():
    """The latest reads, newest first, with their crops; the page refreshes itself."""
    state = web_state()
    try:
        via = recording.live_monitoring("latest reads")
    except recording.RecordRefused:
        return recording.refused()
    latest = state.store.latest_reads(state.reads_on_page)
    return render_template("reads.html", reads=latest, total=state.store.count(), utc_text=utc_text,
                           rfc3339=to_rfc3339, refresh_seconds=state.refresh_seconds, via=via)


@bp.route("/reads/<read_id>")
def detail(read_id: str):
    """One read with its crop and full frame: a "read view" access record (LG-1) covers both images."""
    if not _READ_ID.fullmatch(read_id):
        abort(404)
    state = web_state()
    read = state.store.get_read(read_id)
    if read is None:
        abort(404)
    try:
        rec = recording.record(action="read view", purpose_category="read view",
                               query={"read_id": read_id, "via": request.args.get("via", "")[:36]},
                               result_ids=[read_id])
    except recording.RecordRefused:
        return recording.refused()
    return render_template("read.html", read=read, via=rec.id, utc_text=utc_text, rfc3339=to_rfc3339)


@bp.route("/reads/<read_id>/crop", defaults={"kind": "crop"})
@bp.route("/reads/<read_id>/frame", defaults={"kind": "frame"})
def image(read_id: str, kind: str):
    """A read's plate crop or frame as JPEG (signed-in users only, like every page but sign-in)."""
    if not _READ_ID.fullmatch(read_id):
        abort(404)
    if not recording.covered(request.args.get("via"), read_id, kind):
        try:
            recording.record(action="image view", purpose_category="image view",
                             query={"read_id": read_id, "kind": kind}, result_ids=[read_id])
        except recording.RecordRefused:
            return recording.refused()
    try:  # decrypted in memory: the image is never a plaintext file (the store's files are sealed)
        data = web_state().store.image_bytes(read_id, kind)
    except ImageDamagedError:  # marked damaged in the store; the page shows a broken image
        abort(404)
    if data is None:
        abort(404)
    return send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0, conditional=False)
