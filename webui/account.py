"""My account: change one's own password (the current one first) and set up a new second factor.

Both need the current password, so a browser left signed in cannot be turned into someone
else's account. A new password ends the account's other sessions (users.set_password moves
the session epoch on; this session takes the new epoch). A new second factor is enrolled with
the sign-in's own QR-code page and functions (auth.py, totp.py): the old key keeps working
until a code from the new one has been typed back.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from appliance import settings, totp, users
from appliance.audit import security
from appliance.errors import AccountError
from webui.auth import CODE_FAILED, CodeForm, _enrol_page
from webui.state import web_state

log = logging.getLogger(__name__)

bp = Blueprint("account", __name__)

REENROL_S = 300  # the QR code must be confirmed within five minutes of the password
WRONG = "That is not your current password."


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD_LENGTH)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD_LENGTH)])
    repeat = PasswordField("New password again", validators=[DataRequired(), EqualTo("new", "The new passwords differ.")])


class ConfirmForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=users.MAX_PASSWORD_LENGTH)])


@bp.route("/account")
def page():
    """The account's state, the password form and the second-factor form."""
    state = web_state()
    user = users.get_user(state.store, current_user.user.id)
    return render_template("account.html", user=user, mfa=settings.mfa_required(state.store, user),
                           password_form=PasswordForm(formdata=None), mfa_form=ConfirmForm(formdata=None),
                           min_length=users.MIN_PASSWORD_LENGTH)


@bp.route("/account/password", methods=["POST"])
def password():
    """Replace the password after checking the current one (a wrong one counts towards the lockout)."""
    form = PasswordForm()
    state = web_state()
    if not form.validate_on_submit():
        flash("Password not changed: " + form_errors(form))
    elif not _current_password_ok(form.current.data):
        flash(f"Password not changed: {WRONG}")
    else:
        try:
            users.set_password(state.store, current_user.username, form.new.data, hasher=state.hasher,
                               actor=current_user.username, now=state.clock())
        except AccountError as exc:
            flash(f"Password not changed: {exc}")
        else:
            session["epoch"] = users.get_user(state.store, current_user.user.id).session_epoch  # this one goes on
            flash("Password changed. Your other sessions have ended.")
    return redirect(url_for("account.page"))


@bp.route("/account/mfa/start", methods=["POST"])
def mfa_start():
    """Step one of a new second factor: the current password, then the QR code."""
    form = ConfirmForm()
    if not form.validate_on_submit() or not _current_password_ok(form.current.data):
        flash(f"Second factor not changed: {WRONG}")
        return redirect(url_for("account.page"))
    session["reenrol_at"] = web_state().clock().timestamp()
    return redirect(url_for("account.mfa"))


@bp.route("/account/mfa", methods=["GET", "POST"])
def mfa():
    """Step two: scan the new key's QR code and type a code from it; only then does it replace the old key."""
    state = web_state()
    started = session.get("reenrol_at")
    if not isinstance(started, (int, float)) or state.clock().timestamp() - started > REENROL_S:
        flash("Confirm your password to set up a new second factor.")
        return redirect(url_for("account.page"))
    user = users.get_user(state.store, current_user.user.id)
    secret = totp.start_enrolment(state.store, user.id)
    form = CodeForm()
    if form.validate_on_submit():
        if totp.confirm_enrolment(state.store, user.id, form.code.data, state.clock(), actor=user.username):
            session.pop("reenrol_at", None)
            security.event(state.store, "mfa changed", user.username, request.remote_addr or "unknown",
                           at=state.clock(), agency=state.agency, change="new key enrolled")
            flash("Your new second factor is set up; the old one no longer works.")
            return redirect(url_for("account.page"))
        return _enrol_page(form, secret, user, CODE_FAILED, action=url_for("account.mfa")), 400
    return _enrol_page(form, secret, user, None, action=url_for("account.mfa"))


def _current_password_ok(password: str) -> bool:
    state = web_state()
    return users.verify(state.store, current_user.username, password, hasher=state.hasher,
                        now=state.clock()) is not None


def form_errors(form: FlaskForm) -> str:
    """A form's validation errors as one flash line: "Label: error; Label: error"."""
    return "; ".join(f"{getattr(form, n).label.text}: {' '.join(e)}" for n, e in form.errors.items())
