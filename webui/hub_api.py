"""The hub's pull API, /api/v1 (DESIGN.md "Hub API"): reads by cursor, and their images.

Hub clients authenticate with `Authorization: Bearer <token>` (appliance/hub/tokens.py);
access.py sends every request for these endpoints to `authenticate` before anything else,
so a token opens only this API and a signed-in browser session opens none of it. Items
have the shape the push sends (appliance/hub/items.py). The cursor is the seq of the last
item returned: `next` is where to continue from, unchanged when there is nothing new.
Every pull is recorded before its answer leaves (tokens.record_pull); when that record
cannot be written the pull is refused (POLICY LG-4).
"""

from __future__ import annotations

import io
import logging
import re

from flask import Blueprint, g, jsonify, request, send_file

from appliance.hub import tokens
from appliance.hub.items import read_item
from appliance.store import IMAGE_KINDS, ImageDamagedError
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("hub_api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_READ_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CURSOR = re.compile(r"[0-9]{1,18}")


def error(status: int, message: str):
    """A JSON error the client can show: what was wrong and what is allowed."""
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="alpr hub api"'
    return response


def authenticate():
    """None when the request carries a valid hub token (its name then in g.hub_client), else a 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error(401, "the hub API needs an Authorization: Bearer <token> header (alpr hub token create NAME)")
    client = tokens.verify(web_state().store, token.strip())
    if client is None:
        log.warning("hub API refused a request with an unknown or revoked token from %s", request.remote_addr)
        return error(401, "the bearer token is unknown or revoked")
    g.hub_client = client
    return None


def _recorded(count: int, ids: list[str]):
    """Write the pull's access records; a 503 response when they cannot be written, else None."""
    try:
        query = request.query_string.decode("ascii", "replace")
        tokens.record_pull(web_state().store, g.hub_client, request.path, query, count, web_state().clock(),
                           address=request.remote_addr or "unknown", ids=ids)
    except Exception:
        log.exception("could not write the access record of a hub pull; the pull is refused")
        return error(503, "the pull could not be recorded in the access log, so it is refused; try again later")
    return None


@bp.route("/reads")
def reads():
    """`?after=<cursor>&limit=N` -> {"items": [...], "next": "<cursor>"}, oldest first."""
    after_text = request.args.get("after", "0")
    if not _CURSOR.fullmatch(after_text):
        return error(400, f"after must be a cursor from a previous answer's next (digits only); got {after_text!r}")
    limit_text = request.args.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        return error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}; got {limit_text!r}")
    store = web_state().store
    page = store.reads_after(int(after_text), int(limit_text))
    items = [read_item(store, r) for r in page]
    refused = _recorded(len(items), [r.id for r in page])
    if refused is not None:
        return refused
    return jsonify({"items": items, "next": str(page[-1].seq) if page else after_text})


@bp.route("/reads/<read_id>/image")
def image(read_id: str):
    """The read's crop as JPEG, or its frame with `?kind=frame`."""
    kind = request.args.get("kind", "crop")
    if kind not in IMAGE_KINDS:
        return error(400, f"kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
    if not _READ_ID.fullmatch(read_id):
        return error(404, "there is no read with that id (read ids are UUIDs)")
    try:
        data = web_state().store.image_bytes(read_id, kind)
    except ImageDamagedError:
        data = None
    refused = _recorded(0 if data is None else 1, [] if data is None else [read_id])
    if refused is not None:
        return refused
    if data is None:
        return error(404, f"the store holds no {kind} for read {read_id} (no such read, or the image is gone)")
    return send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0, conditional=False)
