"""Sign-in and sign-out against the store's users table (Flask-Login sessions, CSRF-protected form)."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from appliance import users
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

FAILED = "Invalid username or password."  # the same words whatever was wrong: names stay secret


class WebUser(UserMixin):
    """Flask-Login's view of an account."""

    def __init__(self, user: users.User) -> None:
        self.user = user
        self.id = str(user.id)
        self.username = user.username
        self.role = user.role


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD_LENGTH)])


def load_user(user_id: str) -> WebUser | None:
    """Flask-Login's loader: a disabled or deleted account ends its sessions at the next request."""
    try:
        user = users.get_user(web_state().store, int(user_id))
    except ValueError:
        return None
    return None if user is None or user.disabled else WebUser(user)


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": sign-in never redirects elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if any(c == "\\" or c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target):
        return "/"  # browsers turn "/\evil" into "//evil" and drop tabs and newlines
    return target  # a path starting with one "/" has no scheme or host to send anyone elsewhere


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in page; a good password starts a fresh session and goes to `next` (local paths only)."""
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target)
    form = LoginForm()
    error = None
    status = 200
    if form.validate_on_submit():
        state = web_state()
        user = users.verify(state.store, form.username.data, form.password.data, hasher=state.hasher)
        if user is not None:
            session.clear()  # no session fixation: nothing from before sign-in survives it
            login_user(WebUser(user))
            session.permanent = True  # so PERMANENT_SESSION_LIFETIME (idle timeout) applies
            log.info("sign-in by %s from %s", user.username, request.remote_addr)
            return redirect(target)
        log.warning("failed sign-in from %s", request.remote_addr)
        error, status = FAILED, 401
    elif request.method == "POST":
        error, status = FAILED, 401
    return render_template("login.html", form=form, error=error, next=target), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (a POST with the CSRF token, so another site cannot sign a user out)."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
