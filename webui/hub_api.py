"""The hub's pull API, /api/v1 (DESIGN.md "Hub API"): reads, alerts and access records by cursor, read images.

Hub clients authenticate with `Authorization: Bearer <token>` (appliance/hub/tokens.py) or,
when web.client_ca is set, with a client certificate that chains to that CA and is registered
by its SHA-256 (appliance/hub/client_certs.py; a verified but unregistered one gets 403);
access.py sends every request for these endpoints to `authenticate` before anything else,
so a token or certificate opens only this API and a signed-in browser session opens none of
it (and the web UI's pages never take a certificate as a sign-in). Items
have the shape the push sends (appliance/hub/items.py). The cursor is the seq of the last
item returned (reads and alerts: their seq; access records: their place in the chain),
`next` is where to continue from, unchanged when there is nothing new. Each client (token or
certificate name) is rate-limited by a token bucket (webui/rate_limit.py): past it, 429 with
Retry-After, and nothing is read or recorded. Every pull is recorded before its answer leaves (tokens.record_pull); when that record
cannot be written the pull is refused (POLICY LG-4).
"""

from __future__ import annotations

import io
import logging
import re

from flask import Blueprint, g, jsonify, request, send_file

from appliance.hub import client_certs, tokens
from appliance.alerts.records import alerts_after
from appliance.audit.records import records_after
from appliance.hub.items import access_item, alert_item, read_item
from appliance.store import IMAGE_KINDS, ImageDamagedError
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("hub_api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_READ_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CURSOR = re.compile(r"[0-9]{1,18}")


def error(status: int, message: str, retry_after: str | None = None):
    """A JSON error the client can show: what was wrong and what is allowed."""
    response = jsonify({"error": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="alpr hub api"'
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def authenticate():
    """None when the request carries a valid hub token or a registered client certificate (the client's
    name then in g.hub_client, how in g.hub_auth), else a 401, 403 or 429."""
    if "Authorization" in request.headers:  # an explicit token wins over a certificate the TLS layer saw
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return error(401, "the Authorization header must be 'Bearer <token>' (alpr hub token create NAME)")
        client = tokens.verify(web_state().store, token.strip())
        if client is None:
            log.warning("hub API refused a request with an unknown or revoked token from %s", request.remote_addr)
            return error(401, "the bearer token is unknown or revoked")
        g.hub_auth = "token"
    else:
        der = _verified_client_cert()
        if der is None:
            return error(401, "the hub API needs an Authorization: Bearer <token> header (alpr hub token create "
                              "NAME) or a registered client certificate (alpr hub cert add NAME --cert FILE)")
        client = client_certs.client_for(web_state().store, der)
        if client is None:
            fp = client_certs.fingerprint_of(der)
            log.warning("hub API refused an unregistered client certificate %s from %s", fp, request.remote_addr)
            return error(403, f"the client certificate (SHA-256 {fp}) chains to web.client_ca but is not "
                              "registered as a hub client, or was revoked: register it with "
                              "alpr hub cert add NAME --fingerprint " + fp)
        g.hub_auth = "certificate"
    g.hub_client = client
    wait = web_state().pull_limiter.take(client)
    if wait > 0:
        retry = web_state().pull_limiter.retry_after(wait)
        log.warning("hub client %s is over its pull rate; told to retry in %s s", client, retry)
        return error(429, f"too many requests from hub client {client!r}: at most "
                          f"{web_state().pull_limiter.rate_per_s * 60:g} per minute; retry in {retry} s", retry)
    return None


def _verified_client_cert() -> bytes | None:
    """The DER of the client certificate the TLS handshake verified against web.client_ca, or None.

    Only the server sets these environ keys (appliance/serve.py, cheroot's BuiltinSSLAdapter:
    SSL_CLIENT_VERIFY is SUCCESS only when a certificate was presented and verified); a client's
    headers arrive as HTTP_* keys and cannot forge them."""
    env = request.environ
    pem = env.get("SSL_CLIENT_CERT")
    if env.get("SSL_CLIENT_VERIFY") != "SUCCESS" or not pem:
        return None
    try:
        return client_certs.der_of_pem(pem)
    except ValueError:
        log.error("the TLS layer passed a client certificate that is not PEM; it is ignored")
        return None


def _recorded(count: int, ids: list[str]):
    """Write the pull's access records; a 503 response when they cannot be written, else None."""
    try:
        query = request.query_string.decode("ascii", "replace")
        tokens.record_pull(web_state().store, g.hub_client, request.path, query, count, web_state().clock(),
                           address=request.remote_addr or "unknown", ids=ids, auth=g.hub_auth)
    except Exception:
        log.exception("could not write the access record of a hub pull; the pull is refused")
        return error(503, "the pull could not be recorded in the access log, so it is refused; try again later")
    return None


def _page():
    """(after, limit) from `?after=<cursor>&limit=N`, or a 400 response saying what is allowed."""
    after_text = request.args.get("after", "0")
    if not _CURSOR.fullmatch(after_text):
        return error(400, f"after must be a cursor from a previous answer's next (digits only); got {after_text!r}")
    limit_text = request.args.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        return error(400, f"limit must be a whole number from 1 to {MAX_LIMIT}; got {limit_text!r}")
    return int(after_text), int(limit_text)


def _answer(items: list[dict], after: int):
    """Record the pull (or refuse it), then {"items": [...], "next": "<cursor>"}."""
    refused = _recorded(len(items), [i["id"] for i in items])
    if refused is not None:
        return refused
    return jsonify({"items": items, "next": str(items[-1]["seq"]) if items else str(after)})


@bp.route("/reads")
def reads():
    """`?after=<cursor>&limit=N` -> {"items": [...], "next": "<cursor>"}, oldest first."""
    page = _page()
    if not isinstance(page, tuple):
        return page
    store = web_state().store
    return _answer([read_item(store, r) for r in store.reads_after(*page)], page[0])


@bp.route("/alerts")
def alerts():
    """Alerts by their seq, oldest first; the same paging as /reads."""
    page = _page()
    if not isinstance(page, tuple):
        return page
    return _answer([alert_item(a) for a in alerts_after(web_state().store, *page)], page[0])


@bp.route("/access")
def access():
    """Access records by their place in the chain, oldest first (this pull's own record shows in the next)."""
    page = _page()
    if not isinstance(page, tuple):
        return page
    return _answer([access_item(r) for r in records_after(web_state().store, *page)], page[0])


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
