"""An account's training records (POLICY TR-1, TR-2): the history, and a form to enter a completed course.

Only administrators enter records; each entry names its author and is logged as an account
event and in the access-record chain (training.py, users.py). Records are never edited: a
renewal is a new record.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length

from appliance import training, users
from appliance.errors import AccountError
from webui.state import web_state

bp = Blueprint("training", __name__)


class TrainingForm(FlaskForm):
    course = StringField("Course", validators=[DataRequired(), Length(max=200)])
    version = StringField("Version", validators=[DataRequired(), Length(max=50)])
    completed = DateField("Completed on", validators=[DataRequired()])
    expires = DateField("Counts until (last day)", validators=[DataRequired()])


@bp.route("/users/<username>/training")
def records(username: str):
    """Every training record of one account, newest first, and the form to add one."""
    return _page(username, TrainingForm(formdata=None))


@bp.route("/users/<username>/training", methods=["POST"])
def add(username: str):
    """Enter a completed course; refused with the reason when a field is missing or a date is wrong."""
    form = TrainingForm()
    state = web_state()
    if not form.validate_on_submit():
        flash("The record was not saved: " + "; ".join(
            f"{getattr(form, n).label.text}: {' '.join(e)}" for n, e in form.errors.items()))
        return redirect(url_for("training.records", username=username))
    try:
        r = training.add_record(state.store, username, form.course.data, form.version.data, form.completed.data,
                                form.expires.data, actor=current_user.username, now=state.clock())
    except AccountError as exc:
        flash(f"The record was not saved: {exc}")
        return redirect(url_for("training.records", username=username))
    flash(f"{r.username}: {r.course} {r.version} recorded, counts until {r.expires}.")
    return redirect(url_for("training.records", username=r.username))


def _page(username: str, form: TrainingForm) -> str:
    state = web_state()
    user = users.find_user(state.store, username)
    if user is None:
        abort(404)
    current = training.current_record(state.store, user.id, state.clock().date())
    return render_template("training.html", user=user, current=current,
                           records=training.records(state.store, user.username), form=form)
