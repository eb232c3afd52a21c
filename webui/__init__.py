"""The local admin web UI: a Flask app factory over one store folder.

Everything but the sign-in page and static files needs a signed-in user; the hub pull API
(hub_api.py, /api/v1) needs a hub client's bearer token instead (access.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from flask import Flask, render_template, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect

from appliance.store import Store
from webui import access, admin, alerts, audit, audit_report, auth, health, hub_api, policy, reads, review, search
from webui import account, settings_page, training_records
from webui import holds
from webui import accuracy, hotlists
from webui.state import WebState

log = logging.getLogger(__name__)

OPTIONS = ("health_provider", "password_hasher", "refresh_seconds", "reads_on_page", "store_keys", "clock", "agency",
           "pull_limiter", "appliance_config", "policy_file", "working_hours")
SECRET_FILE = "webui-secret.key"
CSP = ("default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

csrf = CSRFProtect()


def create_app(store_folder: Path, config: dict[str, Any] | None = None) -> Flask:
    """Build the app on the store in `store_folder`.

    `config` holds upper-case Flask keys (SECRET_KEY, WTF_CSRF_ENABLED, SESSION_COOKIE_SECURE
    ...) and these lower-case options: clock (a callable returning an aware UTC datetime;
    tests pass a fake to move time), health_provider (a callable returning the pipeline's
    health dict), password_hasher (an argon2 PasswordHasher), refresh_seconds, reads_on_page,
    store_keys (the store's KeyProvider; default: the device key file), agency (the agency's
    ORI, written into every access record), appliance_config (the device's appliance.config.Config,
    which the settings page shows and overlays; default: the defaults), pull_limiter (a webui.rate_limit.RateLimiter for
    the hub pull API's clients).
    """
    config = dict(config or {})
    unknown = sorted(k for k in config if not k.isupper() and k not in OPTIONS)
    if unknown:
        raise ValueError(f"unknown web UI option(s) {', '.join(unknown)}; the options are "
                         f"{', '.join(OPTIONS)}, plus upper-case Flask keys")
    options = {k: config.pop(k) for k in OPTIONS if k in config}
    if options.get("health_provider") is not None and not callable(options["health_provider"]):
        raise ValueError("health_provider must be a callable returning a dict of health values")

    app = Flask(__name__)
    app.config.update(
        SESSION_COOKIE_NAME="alpr_session", SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=30),  # POLICY AC-7: idle sessions end
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config.update(config)
    store_folder = Path(store_folder)
    store = Store.open(store_folder, keys=options.get("store_keys"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(store_folder / SECRET_FILE)
    app.extensions["alpr"] = WebState(store=store, hasher=options.get("password_hasher") or PasswordHasher(),
                                      health_provider=options.get("health_provider"),
                                      refresh_seconds=int(options.get("refresh_seconds", 5)),
                                      reads_on_page=int(options.get("reads_on_page", 50)),
                                      agency=str(options.get("agency", "")))
    if options.get("clock") is not None:
        app.extensions["alpr"].clock = options["clock"]
    if options.get("policy_file"):  # the usage policy's Markdown file (usage_policy.py; default: the shipped one)
        app.extensions["alpr"].policy_file = str(options["policy_file"])
    if options.get("working_hours") is not None:  # appliance.audit.report.WorkingHours: the report's off-hours flag
        app.extensions["alpr"].working_hours = options["working_hours"]
    if options.get("appliance_config") is not None:  # the device's Config: the settings page overlays it
        app.extensions["alpr"].config = options["appliance_config"]
    if options.get("pull_limiter") is not None:  # webui/rate_limit.RateLimiter (default: 600 a minute per client)
        app.extensions["alpr"].pull_limiter = options["pull_limiter"]

    app.before_request(hotlists.allow_upload)  # before CSRF parses the form: list files exceed MAX_CONTENT_LENGTH
    csrf.init_app(app)
    login = LoginManager(app)
    login.session_protection = "strong"
    login.user_loader(auth.load_user)
    for bp in (auth.bp, reads.bp, alerts.bp, search.bp, audit.bp, health.bp, admin.bp, hub_api.bp,
               policy.bp, review.bp, audit_report.bp, account.bp, settings_page.bp, training_records.bp,
               holds.bp, hotlists.bp, accuracy.bp):
        app.register_blueprint(bp)
    app.before_request(access.guard)  # sign-in, session limits, role and training gate (access.py)

    @app.teardown_request
    def close_connection(_exc: BaseException | None) -> None:
        store.disconnect()  # each request thread opened its own; do not leak one per thread

    @app.after_request
    def security_headers(response):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.is_secure:  # POLICY DS-1: browsers that saw HTTPS once never fall back to HTTP
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.endpoint != "static":  # plate data must not linger in caches
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(e: CSRFError):
        return render_template("error.html", title="Form expired",
                               message="The form was missing its security token or it expired. "
                                       "Reload the page and try again."), 400

    @app.errorhandler(404)
    def not_found(_e):
        return render_template("error.html", title="Not found", message="There is nothing at this address."), 404

    return app


def _secret_key(path: Path) -> bytes:
    """The session-signing key: made once per store, kept in a private file, shared by every worker."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise ValueError(f"{path} holds {len(key)} bytes, fewer than the 32 a session key needs: "
                             f"delete it and restart (signed-in users will sign in again)") from None
        return key
    key = secrets.token_bytes(32)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("created the web UI session key %s", path)
    return key
