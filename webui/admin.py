"""The administrator's users page: who exists, locked, disabled, trained; unlock, disable, enable.

Each action is a CSRF-protected POST and writes an account event naming the administrator
(users.py). Creating users and entering training records is `alpr user ...` for now.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from appliance import training
from appliance import users as accounts
from appliance.errors import AccountError
from webui.state import web_state

bp = Blueprint("admin", __name__)


@bp.route("/users")
def users():
    """Every account with its state and current training record."""
    state = web_state()
    today = state.clock().date()
    rows = [(u, training.current_record(state.store, u.id, today)) for u in accounts.all_users(state.store)]
    return render_template("users.html", rows=rows)


def _act(action, username: str, done: str):
    try:
        action(web_state().store, username, actor=current_user.username, now=web_state().clock())
        flash(f"{username}: {done}.")
    except AccountError as exc:
        flash(str(exc))
    return redirect(url_for("admin.users"))


@bp.route("/users/<username>/unlock", methods=["POST"])
def unlock(username: str):
    return _act(accounts.unlock, username, "unlocked")


@bp.route("/users/<username>/disable", methods=["POST"])
def disable(username: str):
    def by_admin(store, name, *, actor, now):
        return accounts.disable(store, name, actor=actor, reason="disabled by an administrator", now=now)
    return _act(by_admin, username, "disabled; their sessions have ended")


@bp.route("/users/<username>/enable", methods=["POST"])
def enable(username: str):
    return _act(accounts.enable, username, "enabled")
