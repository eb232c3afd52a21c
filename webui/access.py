"""Who may open which page: one table of rules, checked before every request (POLICY AC-2, AC-7, TR-1).

Fail closed: an endpoint missing from RULES answers 403 to everyone, so a new page is
refused until someone decides who may see it (the permission-matrix test lists them all).
Data pages (reads, images; later search, hotlists, exports, alerts) also need a current
training record. The session itself is checked first: it ends after 30 idle minutes,
12 hours after sign-in, or when the account's session epoch moved on (disabled, password
changed), whichever comes first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from appliance import training
from appliance.roles import DATA_ROLES, HOLDERS, LIST_MANAGERS, ROLES
from appliance.tamper_door import TamperLock
from webui import hub_api
from webui.state import web_state

log = logging.getLogger(__name__)

IDLE_LIMIT = timedelta(minutes=30)  # AC-7
SIGN_IN_LIMIT = timedelta(hours=12)
EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"administrator"})
AUDIT = frozenset({"auditor", "administrator"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset[str]
    data: bool = False  # plate data: also needs a current training record (TR-1)


# Background polls: not activity, so a page left open still ends its session after 30 idle minutes (AC-7).
PASSIVE = frozenset({"alerts.summary"})
PUBLIC = frozenset({"auth.login", "static", "policy.page", "policy.markdown", "policy.html"})  # TP-1: policy is public
# The hub pull API (hub_api.py): a hub client's bearer token only, never a browser session;
# and a token opens nothing else (every other endpoint goes through the session checks below).
HUB_API = frozenset({"hub_api.reads", "hub_api.image", "hub_api.alerts", "hub_api.access"})
NOBODY = frozenset()
PENDING = frozenset({"auth.second_factor", "auth.enrol"})  # between password and second factor
RULES: dict[str, Rule] = {
    "reads.index": Rule(DATA_ROLES, data=True),
    "reads.image": Rule(DATA_ROLES, data=True),
    "alerts.index": Rule(DATA_ROLES, data=True),  # alert handling: POLICY TR-1, HL-3
    "alerts.summary": Rule(DATA_ROLES, data=True),  # the every-page banner's poll (no plate text; PASSIVE)
    "accuracy.page": Rule(LIST_MANAGERS),  # HL-4: aggregates only, no plate text
    "accuracy.as_csv": Rule(LIST_MANAGERS),
    "hotlists.index": Rule(DATA_ROLES, data=True),  # operators view lists and entries (AC-2)
    "hotlists.detail": Rule(DATA_ROLES, data=True),
    "hotlists.create": Rule(LIST_MANAGERS, data=True),  # hotlist changes: supervisors, administrators (TR-1)
    "hotlists.add_entry": Rule(LIST_MANAGERS, data=True),
    "hotlists.change_entry": Rule(LIST_MANAGERS, data=True),
    "hotlists.import_file": Rule(LIST_MANAGERS, data=True),
    "search.index": Rule(DATA_ROLES, data=True),  # purpose-bound search: POLICY LG-2
    "audit.index": Rule(AUDIT),  # read-only; nobody can change a record (AC-2, LG-3)
    "audit.export": Rule(AUDIT),
    "audit_report.page": Rule(AUDIT),  # AR-1
    "audit_report.csv_export": Rule(AUDIT),
    "review.queue": Rule(frozenset({"supervisor"}), data=True),  # supervisors review exigent searches (AC-2, LG-2)
    "reads.detail": Rule(DATA_ROLES, data=True),
    "holds.index": Rule(HOLDERS, data=True),  # legal holds and evidence export: RT-3, RT-4 (webui/holds.py)
    "holds.place": Rule(HOLDERS, data=True),
    "holds.release": Rule(HOLDERS, data=True),
    "holds.export": Rule(HOLDERS, data=True),
    "health.page": Rule(EVERYONE),
    "health.as_json": Rule(EVERYONE),
    "health.clear_tamper_lock": Rule(ADMIN),  # reopens data access after the enclosure door (tamper_door.py)
    "auth.logout": Rule(EVERYONE),
    "admin.users": Rule(ADMIN),
    "admin.unlock": Rule(ADMIN),
    "admin.disable": Rule(ADMIN),
    "admin.enable": Rule(ADMIN),
    "admin.create": Rule(ADMIN),  # accounts and training records: AC-1, AC-2, TR-2 (issue #8)
    "admin.role": Rule(ADMIN),
    "training.records": Rule(ADMIN),
    "training.add": Rule(ADMIN),
    "settings.page": Rule(ADMIN),  # policy settings: RT-1, AC-4, SH-1; each change logged
    "settings.change": Rule(ADMIN),
    "account.page": Rule(EVERYONE),  # one's own password and second factor
    "account.password": Rule(EVERYONE),
    "account.mfa_start": Rule(EVERYONE),
    "account.mfa": Rule(EVERYONE),
    "hub_api.reads": Rule(NOBODY),  # no role: hub clients only (HUB_API, checked before sessions)
    "hub_api.image": Rule(NOBODY),
    "hub_api.alerts": Rule(NOBODY),
    "hub_api.access": Rule(NOBODY),
}


def guard():
    """The before-request hook: a redirect or a 403 page, or None to let the request through."""
    endpoint = request.endpoint
    if endpoint in PUBLIC or endpoint in PENDING:
        return None  # the pending pages check their own half-signed-in state
    if endpoint in HUB_API:
        if "Authorization" not in request.headers and current_user.is_authenticated:
            return forbidden(f"Your role ({current_user.role.replace('_', ' ')}) does not give access to this page: "
                             "the hub API answers hub client tokens only.")
        return hub_api.authenticate()
    if not current_user.is_authenticated:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("auth.login", next=target))
    ended = session_ended(web_state().clock())
    if ended:
        log.info("session of %s ended: %s", current_user.username, ended)
        logout_user()
        session.clear()
        flash(f"Your session ended: {ended}. Sign in again.")
        return redirect(url_for("auth.login"))
    if endpoint not in PASSIVE:
        session["seen"] = web_state().clock().timestamp()
    if endpoint is None:
        return None  # no such page: the 404 handler answers
    rule = RULES.get(endpoint)
    if rule is None:
        return forbidden("This page has no access rule yet, so nobody may open it.")
    if current_user.role not in rule.roles:
        return forbidden(f"Your role ({current_user.role.replace('_', ' ')}) does not give access to this page.")
    if rule.data and TamperLock(web_state().store.folder).locked:
        return forbidden("Access to plate data is locked because the enclosure door was opened. An administrator "
                         "must check the device and clear the lock on the health page.", title="Data locked")
    if rule.data and training.current_record(web_state().store, current_user.user.id,
                                             web_state().clock().date()) is None:
        return forbidden("Access to plate data needs a current training record (course, version, completion and "
                         "expiry dates), and you have none: your training is missing or has expired. Ask an "
                         "administrator to enter your completed training.", title="Training required")
    return None


def session_ended(now: datetime) -> str | None:
    """Why the signed-in session is over, or None while it is good."""
    user = current_user.user
    if user.disabled:
        return "the account is disabled"
    if session.get("epoch") != user.session_epoch:
        return "the account was changed by an administrator"
    seen, started = session.get("seen"), session.get("started")
    if seen is None or started is None:
        return "the session is incomplete"
    if now.timestamp() - seen > IDLE_LIMIT.total_seconds():
        return "30 minutes without activity"
    if now.timestamp() - started > SIGN_IN_LIMIT.total_seconds():
        return "12 hours since sign-in"
    if user.inactive(now):
        return "the account was inactive for 90 days"
    return None


def forbidden(message: str, title: str = "Not allowed"):
    """The 403 page, saying why."""
    return render_template("error.html", title=title, message=message), 403
