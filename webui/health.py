"""The pipeline's health, as the `health_provider` callable in the app config reports it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, jsonify, render_template, request
from flask_login import current_user

from appliance.health_state import read_snapshot_file
from appliance.provision.renewal import certificate_report
from appliance.store.times import to_rfc3339
from appliance.tamper_door import TamperLock
from webui.hub_status import hub_rows
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


# The device edge's snapshot (appliance/health_state.py), written by `alpr run` in the store folder.
DEVICE_LABELS = {
    "level": "Device health", "led": "Status LED", "reasons": "Why", "cpu_temp_c": "CPU temperature (C)",
    "throttled_now": "Throttling now", "throttled_since_boot": "Throttling since boot",
    "disk_used_percent": "Disk used (%)", "emmc": "eMMC wear", "clock_synced": "Clock synchronised",
    "night": "Night mode", "illuminator_level": "IR illuminator level", "ir_cut_inserted": "IR-cut filter in",
    "tamper": "Camera tamper", "tamper_reference": "Tamper reference view", "scene_mean": "Scene brightness",
    "scene_sharpness": "Scene sharpness", "frame_check_ms": "Frame check cost (ms)", "frame_checks": "Frame checks",
    "door_open": "Enclosure door open", "doors_opened": "Door openings", "data_locked": "Plate data locked",
    "locked_since": "Locked since (UTC)", "alerts_signalled": "Alerts signalled", "trigger_bursts": "Trigger bursts",
}


def device_rows() -> list[tuple[str, str]]:
    """The edge snapshot's rows, in display order; empty when `alpr run` has not written one."""
    values = read_snapshot_file(web_state().store.folder) or {}
    rows = []
    for key, label in DEVICE_LABELS.items():
        if key in values:
            v = values[key]
            rows.append((label, ", ".join(map(str, v)) or "none" if isinstance(v, list) else _text(v)))
    return rows


def _page(status_code: int = 200):
    status, values = snapshot()
    keys = [k for k in LABELS if k in values] + sorted(k for k in values if k not in LABELS)
    rows = [(LABELS.get(k, k.replace("_", " ").capitalize()), _text(values[k])) for k in keys]
    lock = TamperLock(web_state().store.folder).state()
    admin = current_user.is_authenticated and current_user.role == "administrator"
    return render_template("health.html", status=status, rows=rows, not_running=NOT_RUNNING,
                           device=device_rows(), lock=lock, hub=hub_rows(web_state().store, web_state().clock()),
                           certificates=certificate_report(web_state().config),
                           can_clear=admin), status_code


@bp.route("/health")
def page():
    """Counters of the capture and recognition loop, the device edge, and the data lock."""
    return _page()


@bp.route("/health/tamper-lock/clear", methods=["POST"])
def clear_tamper_lock():
    """An administrator reopens data access after the enclosure door; the clearing is a security event."""
    lock = TamperLock(web_state().store.folder)
    if lock.state() is None:
        flash("Plate data is not locked: nothing to clear.")
        return _page()
    reason = (request.form.get("reason") or "").strip()[:500]
    try:
        lock.clear(web_state().store, current_user.username, request.remote_addr or "unknown",
                   agency=web_state().agency, reason=reason, at=web_state().clock())
    except Exception:  # LG-4: no record, no clearing
        log.exception("could not record the clearing of the tamper lock")
        flash("The clearing could not be recorded, so the lock stays. Try again.")
        return _page(503)
    flash("Plate data access is open again; the clearing is in the access records.")
    return _page()


@bp.route("/health.json")
def as_json():
    """The same as JSON (times RFC 3339), for scripts and the hardware tests."""
    status, values = snapshot()
    body = {k: (_text(v) if isinstance(v, datetime) else v) for k, v in values.items()}
    return jsonify({"status": status, **body})
