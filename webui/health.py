"""The pipeline's health, as the `health_provider` callable in the app config reports it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, render_template

from appliance.store.times import to_rfc3339
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

# The fields the pipeline is expected to report, in display order; any others follow.
LABELS = {
    "frames_captured": "Frames captured",
    "frames_processed": "Frames processed",
    "frames_dropped": "Frames dropped",
    "fps": "Frames per second",
    "queue_depth": "Queue depth",
    "last_read_time": "Last read (UTC)",
    "last_read_utc": "Last read (UTC)",  # the name appliance.pipeline.Health.snapshot uses
    "reads": "Reads stored",
    "camera_errors": "Camera errors",
    "uptime_s": "Uptime (s)",
}
NOT_RUNNING = "pipeline not running"


def snapshot() -> tuple[str, dict[str, Any]]:
    """("ok", values), ("not running", {}) without a provider, or ("error", {}) when it raised."""
    provider = web_state().health_provider
    if provider is None:
        return "not running", {}
    try:
        values = provider()
    except Exception:  # a broken pipeline must not take the page down with it
        log.exception("health provider failed")
        return "error", {}
    if not isinstance(values, Mapping):
        log.error("health provider returned %s, not a dict", type(values).__name__)
        return "error", {}
    return "ok", dict(values)


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return to_rfc3339(value) if value.tzinfo else value.isoformat()
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


@bp.route("/health")
def page():
    """Counters of the capture and recognition loop, or "pipeline not running"."""
    status, values = snapshot()
    keys = [k for k in LABELS if k in values] + sorted(k for k in values if k not in LABELS)
    rows = [(LABELS.get(k, k.replace("_", " ").capitalize()), _text(values[k])) for k in keys]
    return render_template("health.html", status=status, rows=rows, not_running=NOT_RUNNING)


@bp.route("/health.json")
def as_json():
    """The same as JSON (times RFC 3339), for scripts and the hardware tests."""
    status, values = snapshot()
    body = {k: (_text(v) if isinstance(v, datetime) else v) for k, v in values.items()}
    return jsonify({"status": status, **body})
