"""Sign-in in two steps (password with the use banner, then a TOTP code), and sign-out.

Step one checks the password and the banner's acknowledgement (POLICY AC-8) and leaves a
*pending* mark in a fresh session; step two takes a TOTP code (AC-4) or, for an account
not yet enrolled, shows the enrolment QR code and takes the first code from it. Only then
does Flask-Login's session start, carrying the account's session epoch and the sign-in
and last-seen times that access.py checks on every request. Failures of either step
count towards the lockout (AC-6); every refusal says the same words.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from appliance import settings, totp, users
from appliance.audit import security
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

FAILED = "Invalid username or password."  # the same words whatever was wrong: names stay secret
LOCK_HINT = "After 5 failed attempts in 15 minutes an account is locked until an administrator unlocks it."
CODE_FAILED = "That code is wrong, expired or already used. Wait for the next code and try again."
PENDING_S = 300  # the second step must follow the first within five minutes


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
    banner = BooleanField("I have read the notice above and agree to its terms",
                          validators=[DataRequired("Acknowledge the notice to sign in.")])


class CodeForm(FlaskForm):
    code = StringField("Six-digit code", validators=[DataRequired(), Length(min=6, max=8)])


def load_user(user_id: str) -> WebUser | None:
    """Flask-Login's loader: a deleted or disabled account ends its sessions at the next request."""
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
    """Step one: banner, username and password; a fresh session then holds the pending sign-in."""
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        if session.get("epoch") == current_user.user.session_epoch:
            return redirect(target)
        logout_user()  # a session from before the account was disabled or changed: sign in afresh
        session.clear()
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        state = web_state()
        now = state.clock()
        user = users.verify(state.store, form.username.data, form.password.data, hasher=state.hasher, now=now)
        if user is not None:
            session.clear()  # no session fixation: nothing from before sign-in survives it
            session["pending"] = {"uid": user.id, "at": now.timestamp(), "next": target}
            if not settings.mfa_required(state.store, user):  # AC-4: relaxed only for non-administrators
                return _complete(user)
            return redirect(url_for("auth.second_factor" if user.mfa_enrolled else "auth.enrol"))
        log.warning("failed sign-in from %s", request.remote_addr)
        _password_failed(form.username.data)
        error, status = FAILED, 401
    elif request.method == "POST":
        error, status = (form.banner.errors[0] if form.banner.errors else FAILED), 401
    return render_template("login.html", form=form, error=error, hint=LOCK_HINT, next=target), status


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    """Step two: a TOTP code from the enrolled authenticator, each code accepted once."""
    user = _pending()
    if user is None:
        return redirect(url_for("auth.login"))
    if not user.mfa_enrolled:
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        state = web_state()
        if totp.verify_code(state.store, user.id, form.code.data, state.clock()):
            return _complete(user)
        return _code_failed(user, "code.html", form)
    return render_template("code.html", form=form, error=None)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    """Step two for an account without a second factor yet: scan the QR code, type the first code."""
    user = _pending()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.mfa_enrolled:
        return redirect(url_for("auth.second_factor"))
    state = web_state()
    secret = totp.start_enrolment(state.store, user.id)
    form = CodeForm()
    if form.validate_on_submit():
        if totp.confirm_enrolment(state.store, user.id, form.code.data, state.clock(), actor=user.username):
            security.note(state.store, "mfa enrolled", user.username, request.remote_addr or "unknown",
                          at=state.clock(), agency=state.agency)
            return _complete(users.get_user(state.store, user.id))
        return _code_failed(user, "enrol.html", form, secret=secret)
    return _enrol_page(form, secret, user, None), 200


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (a POST with the CSRF token, so another site cannot sign a user out)."""
    if current_user.is_authenticated:
        security.note(web_state().store, "sign-out", current_user.username, request.remote_addr or "unknown",
                      at=web_state().clock(), agency=web_state().agency)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


def _pending() -> users.User | None:
    """The account that passed step one in this session, if that was under five minutes ago."""
    mark = session.get("pending")
    if not isinstance(mark, dict) or web_state().clock().timestamp() - mark.get("at", 0) > PENDING_S:
        return None
    user = users.get_user(web_state().store, int(mark["uid"]))
    return None if user is None or user.disabled or user.locked else user


def _complete(user: users.User):
    """Start the signed-in session: epoch, start and last-seen times, then go to `next`."""
    state = web_state()
    target = session.get("pending", {}).get("next", "/")
    try:  # a sign-in that cannot be recorded does not happen (LG-4, LG-6)
        security.event(state.store, "sign-in", user.username, request.remote_addr or "unknown", at=state.clock(),
                       agency=state.agency, mfa=user.mfa_required)
    except Exception:
        log.exception("could not record the sign-in of %s; it is refused", user.username)
        session.clear()
        return render_template("error.html", title="Not recorded, so not signed in",
                               message="The sign-in could not be written to the access records, so it is "
                                       "refused. Try again, or tell an administrator."), 503
    now = state.clock().timestamp()
    session.clear()
    login_user(WebUser(user))
    session.permanent = True  # the cookie expires too (PERMANENT_SESSION_LIFETIME)
    session.update(epoch=user.session_epoch, started=now, seen=now)
    users.signed_in(state.store, user.id, state.clock())
    log.info("sign-in by %s from %s", user.username, request.remote_addr)
    return redirect(safe_next(target))


def _code_failed(user: users.User, template: str, form: CodeForm, secret: str | None = None):
    state = web_state()
    if users.second_factor_failed(state.store, user, request.remote_addr or "unknown", state.clock(), state.agency):
        session.clear()
        return render_template("login.html", form=LoginForm(formdata=None), error=FAILED, hint=LOCK_HINT,
                               next="/"), 401
    if secret is not None:
        return _enrol_page(form, secret, user, CODE_FAILED), 401
    return render_template(template, form=form, error=CODE_FAILED), 401


def _password_failed(username: str) -> None:
    """Record a failed password step (LG-6), and the lockout when this failure caused it (AC-6)."""
    state = web_state()
    address = request.remote_addr or "unknown"
    security.failed(state.store, "sign-in failure", username, address, at=state.clock(), agency=state.agency,
                    step="password")
    account = users.find_user(state.store, username)
    if account is not None and account.locked:
        security.failed(state.store, "account locked", account.username, address, at=state.clock(),
                        agency=state.agency, after="password")


def _enrol_page(form: CodeForm, secret: str, user: users.User, error: str | None, action: str | None = None) -> str:
    """The QR-code page (sign-in's enrolment, and re-enrolment from My account with `action`)."""
    uri = totp.provisioning_uri(secret, user.username)
    return render_template("enrol.html", form=form, error=error, secret=secret, qr=Markup(totp.qr_svg(uri)),
                           action=action or url_for("auth.enrol"))
