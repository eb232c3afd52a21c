"""Policy settings changed by an administrator (POLICY RT-1, AC-4, SH-1, LG-6): stored, logged, applied.

The real app on a real store; `effective_settings` is what the rest of the code reads.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from appliance import settings, users
from appliance.audit import records
from appliance.config import Config, HubConfig
from appliance.errors import ConfigError
from appliance.store.retention import RetentionPolicy
from test_access_control import START, clock, folder, password_step, sign_in, store_of  # noqa: F401
from webui import create_app

FILE = replace(Config(), hub=replace(HubConfig(), url="https://hub.example.org"))


@pytest.fixture
def app(folder, clock):  # noqa: F811 - the access-control fixtures, with a config file's values
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False,
                              "password_hasher": users.cheap_hasher(), "clock": clock, "appliance_config": FILE})
    yield app
    app.extensions["alpr"].store.close()


def changes(app) -> list[records.StoredRecord]:
    return [r for r in reversed(records.latest(store_of(app), 1000)) if r.action == "settings change"]


def test_a_retention_change_is_logged_with_old_and_new_and_applied(app, clock) -> None:
    """RT-1 (changing a period is an administrator action, logged), LG-6."""
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    page = admin.get("/settings").get_data(as_text=True)
    assert "store.retention_hit_days" in page and "hub.url" in page and settings.MFA_KEY in page
    r = admin.post("/settings", data={"key": "store.retention_hit_days", "value": "400"}, follow_redirects=True)
    assert b"changed from 365 to 400." in r.data and b"set here by admin" in r.data
    [rec] = changes(app)
    assert (rec.username, rec.purpose_category) == ("admin", "security event")
    assert rec.query == {"setting": "store.retention_hit_days", "old": 365.0, "new": 400.0}
    assert records.verify(store_of(app))[0]
    cfg = settings.effective_settings(FILE, store_of(app))
    assert cfg.store.retention_hit_days == 400 and cfg.hub.url == "https://hub.example.org"
    assert RetentionPolicy.from_config(cfg.store).hit_days == 400
    assert FILE.store.retention_hit_days == 365  # the file's values are left alone
    admin.post("/settings", data={"key": "store.retention_hit_days", "value": "400"})
    assert len(changes(app)) == 1  # no change, no record


def test_a_bad_value_is_refused_with_what_is_allowed(app, clock) -> None:
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    r = admin.post("/settings", data={"key": "store.retention_hit_days", "value": "forever"}, follow_redirects=True)
    assert b"Not changed" in r.data and b"a number between 0 and 36500" in r.data
    r = admin.post("/settings", data={"key": "hub.url", "value": "http://evil.example.com"}, follow_redirects=True)
    assert b"must be an https:// URL" in r.data
    r = admin.post("/settings", data={"key": "camera.fps", "value": "5"}, follow_redirects=True)
    assert b"not a setting changed here" in r.data
    assert changes(app) == [] and settings.effective_settings(FILE, store_of(app)) == FILE


def test_the_hub_url_can_be_emptied_and_the_change_is_recorded(app, clock) -> None:
    """SH-1: the hub is an administrator's setting; an empty value means no hub."""
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    admin.post("/settings", data={"key": "hub.url", "value": ""})
    assert settings.effective_settings(FILE, store_of(app)).hub.url == ""
    assert changes(app)[0].query == {"setting": "hub.url", "old": "https://hub.example.org", "new": ""}


def test_relaxing_the_second_factor_applies_to_non_administrators_only(app, clock) -> None:
    """AC-4: an administrator may relax MFA for non-administrators, never for administrators."""
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    admin.post("/settings", data={"key": settings.MFA_KEY, "value": "false"})
    assert changes(app)[0].query == {"setting": settings.MFA_KEY, "old": True, "new": False}
    op, adm = app.test_client(), app.test_client()
    assert password_step(op, "op").headers["Location"] == "/"  # no code asked
    assert op.get("/").status_code == 200
    assert password_step(adm, "admin").headers["Location"] == "/login/code"


def test_only_administrators_change_settings(app, clock) -> None:
    """AC-2: a supervisor is refused, and nothing changes."""
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    assert sup.get("/settings").status_code == 403
    assert sup.post("/settings", data={"key": "store.retention_hit_days", "value": "1"}).status_code == 403
    assert settings.effective_settings(FILE, store_of(app)) == FILE


def test_a_change_that_cannot_be_recorded_does_not_happen(app, clock) -> None:
    """LG-4: the stored value and its access record commit together."""
    s = store_of(app)
    s.database.execute_sql("CREATE TRIGGER jam BEFORE INSERT ON access_records BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(Exception, match="no"):
        settings.change(s, FILE, "store.retention_hit_days", "10", actor="admin", now=START)
    assert settings.effective_settings(FILE, s) == FILE


def test_settings_are_the_config_policy_fields() -> None:
    keys = [i.key for i in settings.policy_fields()]
    assert {"store.retention_non_hit_days", "store.retention_image_days", "store.retention_hit_days", "hub.url",
            settings.MFA_KEY} <= set(keys)
    assert "camera.fps" not in keys and "hub.push_interval_s" not in keys
    with pytest.raises(ConfigError, match="not a setting"):
        settings.change(None, FILE, "web.port", "80", actor="admin")  # type: ignore[arg-type]
