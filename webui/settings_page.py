"""The administrator's settings page: the policy settings (retention, second factor, hub, hotlist refresh).

One setting per form, so each change is one logged event (appliance/settings.py writes the
value and its access record together). Everything else stays in the config file.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from appliance import settings
from appliance.errors import ConfigError
from webui.state import web_state

bp = Blueprint("settings", __name__)


class SettingForm(FlaskForm):
    key = HiddenField(validators=[DataRequired(), Length(max=100)])
    value = StringField("New value", validators=[Length(max=2000)])


@bp.route("/settings")
def page():
    """Each policy setting: the config file's value, the value in effect, who changed it last."""
    state = web_state()
    return render_template("settings.html", settings=settings.views(state.config, state.store))


@bp.route("/settings", methods=["POST"])
def change():
    """Change one setting; refused with what the setting accepts when the value is wrong."""
    form = SettingForm()
    state = web_state()
    if not form.validate_on_submit():
        flash("Nothing changed: the form named no setting.")
        return redirect(url_for("settings.page"))
    try:
        changed = settings.change(state.store, state.config, form.key.data, form.value.data or "",
                                  actor=current_user.username, client=request.remote_addr or "unknown",
                                  agency=state.agency, now=state.clock())
    except ConfigError as exc:
        flash(f"Not changed: {exc}")
    else:
        flash(f"{form.key.data}: unchanged." if changed is None
              else f"{form.key.data} changed from {_shown(changed[0])} to {_shown(changed[1])}.")
    return redirect(url_for("settings.page"))


def _shown(value) -> str:
    """365.0 as 365, text in quotes, booleans as the config file writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return repr(value)
