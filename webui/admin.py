"""The administrator's users page: who exists, locked, disabled, trained; create, role, unlock, disable, enable.

Each action is a CSRF-protected POST and writes an account event naming the administrator,
which also enters the access-record chain (users.py, POLICY LG-6). A generated password is
shown once, in the answer to the create request itself: never flashed, because flashed
messages travel in the (signed, not encrypted) session cookie.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from appliance import training
from appliance import users as accounts
from appliance.errors import AccountError
from appliance.user_command import GENERATED_BYTES
from webui.account import form_errors
from webui.state import web_state

bp = Blueprint("admin", __name__)

ROLE_CHOICES = list(accounts.ROLES)  # plain values: the templates write the labels


class CreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    role = SelectField("Role", choices=ROLE_CHOICES, default="operator")
    password = PasswordField("Password (leave empty to generate one)",
                             validators=[Optional(), Length(max=accounts.MAX_PASSWORD_LENGTH)])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


@bp.route("/users")
def users():
    """Every account with its state and current training record."""
    return _page(CreateForm(formdata=None))


@bp.route("/users/new", methods=["POST"])
def create():
    """Create an account with a typed password (AC-5 rules) or a generated one, shown once."""
    form = CreateForm()
    if not form.validate_on_submit():
        flash("To create a user give a username and a role: " + form_errors(form))
        return redirect(url_for("admin.users"))
    state = web_state()
    typed = form.password.data or ""
    password = typed or secrets.token_urlsafe(GENERATED_BYTES)
    try:
        user = accounts.create_user(state.store, form.username.data, password, form.role.data, hasher=state.hasher,
                                    actor=current_user.username, now=state.clock())
    except AccountError as exc:
        return _page(form, error=str(exc)), 400
    created = {"username": user.username, "role": user.role, "password": None if typed else password}
    return _page(CreateForm(formdata=None), created=created)


@bp.route("/users/<username>/role", methods=["POST"])
def role(username: str):
    """Give an account another role; its live sessions end."""
    form = RoleForm()
    if not form.validate_on_submit():
        flash(f"{username}: choose one of the roles ({form_errors(form)}).")
        return redirect(url_for("admin.users"))
    return _act(lambda store, name, *, actor, now: accounts.set_role(store, name, form.role.data, actor=actor, now=now),
                username, f"role is now {form.role.data.replace('_', ' ')}; their sessions have ended")


@bp.route("/users/<username>/unlock", methods=["POST"])
def unlock(username: str):
    return _act(accounts.unlock, username, "unlocked")


@bp.route("/users/<username>/disable", methods=["POST"])
def disable(username: str):
    if username.strip().lower() == current_user.username:
        flash("You cannot disable your own account; ask another administrator.")
        return redirect(url_for("admin.users"))

    def by_admin(store, name, *, actor, now):
        return accounts.disable(store, name, actor=actor, reason="disabled by an administrator", now=now)
    return _act(by_admin, username, "disabled; their sessions have ended")


@bp.route("/users/<username>/enable", methods=["POST"])
def enable(username: str):
    return _act(accounts.enable, username, "enabled")


def _page(form: CreateForm, *, created: dict | None = None, error: str | None = None) -> str:
    state = web_state()
    today = state.clock().date()
    rows = [(u, training.current_record(state.store, u.id, today)) for u in accounts.all_users(state.store)]
    return render_template("users.html", rows=rows, form=form, roles=accounts.ROLES, created=created,
                           error=error, min_length=accounts.MIN_PASSWORD_LENGTH)


def _act(action, username: str, done: str):
    try:
        action(web_state().store, username, actor=current_user.username, now=web_state().clock())
        flash(f"{username}: {done}.")
    except AccountError as exc:
        flash(str(exc))
    return redirect(url_for("admin.users"))


