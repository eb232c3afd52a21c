"""The account pages through the real app and a real store: users, training records, my account.

POLICY AC-1..AC-7, TR-1, TR-2, LG-6: every administrative change is an account event and a
security event in the access-record chain, and ends live sessions where the policy says so.
Fixtures (one enrolled, trained user per role; a fake clock) come from test_access_control.
"""

from __future__ import annotations

import re

import pytest

from appliance import totp, training, users
from appliance.audit import records
from test_access_control import (PASSWORD, START, app, clock, folder, password_step, secret_of,  # noqa: F401
                                 sign_in, store_of)
from webui import create_app

NEW_PASSWORD = "seven quiet harbour lanterns"


def chain(app, action: str, account: str | None = None) -> list[records.StoredRecord]:
    """The security events named `action` (about `account`), oldest first."""
    return [r for r in reversed(records.latest(store_of(app), 1000))
            if r.action == action and account in (None, r.query.get("account"))]


@pytest.fixture
def admin(app, clock):
    client = app.test_client()
    sign_in(client, clock, "admin")
    return client


# -- users ---------------------------------------------------------------------------------------------

def test_creating_a_user_with_a_generated_password_shows_it_once(app, admin, clock) -> None:
    """AC-1, AC-5, LG-6: a named account; the generated password works and is in no cookie; logged."""
    r = admin.post("/users/new", data={"username": "Dana.Ops", "role": "supervisor", "password": ""})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Created <strong>dana.ops</strong> (supervisor)" in page
    password = re.search(r'id="generated-password">([^<]+)<', page).group(1)
    assert len(password) >= 15 and password not in str(r.headers)
    assert password not in admin.get("/users").get_data(as_text=True)  # shown once
    dana = users.find_user(store_of(app), "dana.ops")
    assert dana.role == "supervisor" and not dana.disabled
    assert users.verify(store_of(app), "dana.ops", password, hasher=users.cheap_hasher()) is not None
    [event] = chain(app, "account created", "dana.ops")
    assert (event.username, event.query["account"], event.purpose_category) == ("admin", "dana.ops", "security event")
    assert records.verify(store_of(app))[0]


def test_a_typed_password_must_meet_the_rules(app, admin) -> None:
    """AC-5: refused with the reason; nothing created."""
    r = admin.post("/users/new", data={"username": "erin", "role": "operator", "password": "short one"})
    assert r.status_code == 400 and b"15 to 1024 characters" in r.data
    assert users.find_user(store_of(app), "erin") is None
    r = admin.post("/users/new", data={"username": "erin", "role": "operator", "password": NEW_PASSWORD})
    assert r.status_code == 200 and b"generated-password" not in r.data
    assert users.verify(store_of(app), "erin", NEW_PASSWORD, hasher=users.cheap_hasher()) is not None
    r = admin.post("/users/new", data={"username": "erin", "role": "operator", "password": NEW_PASSWORD})
    assert r.status_code == 400 and b"is taken" in r.data  # AC-1: no second account of that name
    r = admin.post("/users/new", data={"username": "frank", "role": "superuser", "password": NEW_PASSWORD})
    assert r.status_code == 302 and users.find_user(store_of(app), "frank") is None


def test_changing_a_role_ends_the_users_sessions_and_is_logged(app, admin, clock) -> None:
    """AC-2, LG-6: the new role applies at once; the last administrator keeps the role."""
    op = app.test_client()
    sign_in(op, clock, "op")
    assert op.get("/").status_code == 200
    assert admin.post("/users/op/role", data={"role": "auditor"}).status_code == 302
    assert users.find_user(store_of(app), "op").role == "auditor"
    assert op.get("/").headers["Location"].startswith("/login")  # the old session is over
    sign_in(op, clock, "op")
    assert op.get("/").status_code == 403  # auditors see no plate data
    [event] = chain(app, "role change")
    assert event.username == "admin" and event.query["detail"] == "from operator to auditor"
    admin.post("/users/admin/role", data={"role": "operator"})
    assert b"only enabled administrator" in admin.get("/users").data
    assert users.find_user(store_of(app), "admin").role == "administrator"


def test_disable_enable_and_unlock_from_the_users_page(app, admin, clock) -> None:
    """AC-3, AC-6: disabling ends sessions; an administrator cannot disable themselves."""
    victim = app.test_client()
    sign_in(victim, clock, "sup")
    assert admin.post("/users/sup/disable").status_code == 302
    assert victim.get("/").headers["Location"].startswith("/login")
    assert admin.post("/users/admin/disable").status_code == 302
    assert b"cannot disable your own account" in admin.get("/users").data
    assert not users.find_user(store_of(app), "admin").disabled
    admin.post("/users/sup/enable")
    sign_in(victim, clock, "sup")
    assert [e.action for e in chain(app, "account disabled", "sup") + chain(app, "account enabled", "sup")] == [
        "account disabled", "account enabled"]


def test_the_users_page_is_usable_on_a_phone_and_protected_by_csrf(folder, clock) -> None:
    """Every form carries the CSRF token; a post without it is refused (400) and changes nothing."""
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "password_hasher": users.cheap_hasher(),
                              "clock": clock})
    try:
        client = app.test_client()

        def token(path: str) -> str:
            return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "admin", "password": PASSWORD, "banner": "y",
                                    "csrf_token": token("/login")})
        clock.advance(seconds=30)
        client.post("/login/code", data={"code": totp.code_at(secret_of("admin"), totp.step_of(clock())),
                                         "csrf_token": token("/login/code")})
        for path in ("/users", "/users/op/training", "/account", "/settings"):
            page = client.get(path).get_data(as_text=True)
            assert 'name="viewport"' in page and page.count('name="csrf_token"') >= page.count("<form"), path
        r = client.post("/users/op/disable")
        assert r.status_code == 400 and not users.find_user(store_of(app), "op").disabled
        r = client.post("/users/op/disable", data={"csrf_token": token("/users")})
        assert r.status_code == 302 and users.find_user(store_of(app), "op").disabled
    finally:
        app.extensions["alpr"].store.close()


# -- training records ------------------------------------------------------------------------------------

def test_an_administrator_enters_training_and_data_access_follows(app, admin, clock) -> None:
    """TR-1, TR-2: untrained until a record is entered; the entry names its author, in the chain too."""
    user = app.test_client()
    sign_in(user, clock, "untrained")
    assert user.get("/").status_code == 403
    r = admin.post("/users/untrained/training", data={"course": "ALPR operator", "version": "2026.2",
                                                       "completed": "2026-11-30", "expires": "2027-11-30"})
    assert r.status_code == 302 and r.headers["Location"] == "/users/untrained/training"
    page = admin.get("/users/untrained/training").get_data(as_text=True)
    assert "ALPR operator" in page and "2027-11-30" in page and "admin" in page
    assert user.get("/").status_code == 200
    [event] = chain(app, "training record", "untrained")
    assert event.username == "admin" and event.query["account"] == "untrained"


def test_a_wrong_training_entry_is_refused_with_the_reason(app, admin) -> None:
    r = admin.post("/users/untrained/training", data={"course": "ALPR operator", "version": "1",
                                                       "completed": "2026-11-30", "expires": "2026-01-01"},
                   follow_redirects=True)
    assert b"not saved" in r.data and b"before completed" in r.data
    r = admin.post("/users/untrained/training", data={"course": "", "version": "1"}, follow_redirects=True)
    assert b"not saved" in r.data and b"Course" in r.data
    assert training.records(store_of(app), "untrained") == []
    assert admin.get("/users/nobody/training").status_code == 404


# -- my account ------------------------------------------------------------------------------------------

def test_changing_my_password_needs_the_current_one_and_ends_other_sessions(app, clock) -> None:
    """AC-5, AC-7, LG-6: this session goes on, the others end; the new password works."""
    mine, other = app.test_client(), app.test_client()
    sign_in(mine, clock, "op")
    sign_in(other, clock, "op")
    r = mine.post("/account/password", data={"current": "not my password at all", "new": NEW_PASSWORD,
                                             "repeat": NEW_PASSWORD}, follow_redirects=True)
    assert b"not your current password" in r.data
    r = mine.post("/account/password", data={"current": PASSWORD, "new": "too short", "repeat": "too short"},
                  follow_redirects=True)
    assert b"15 to 1024 characters" in r.data
    r = mine.post("/account/password", data={"current": PASSWORD, "new": NEW_PASSWORD, "repeat": NEW_PASSWORD},
                  follow_redirects=True)
    assert b"Password changed" in r.data
    assert mine.get("/").status_code == 200
    assert other.get("/").headers["Location"].startswith("/login")
    assert users.verify(store_of(app), "op", NEW_PASSWORD, hasher=users.cheap_hasher()) is not None
    assert [e.username for e in chain(app, "password change")] == ["op"]


def test_a_new_second_factor_by_qr_code_from_my_account(app, clock) -> None:
    """AC-4: password first, then the QR code; the old key works until a code from the new one is typed."""
    client = app.test_client()
    sign_in(client, clock, "op")
    assert client.get("/account/mfa").headers["Location"] == "/account"  # no password yet
    assert b"not your current password" in client.post("/account/mfa/start", data={"current": "wrong password!!"},
                                                        follow_redirects=True).data
    assert client.post("/account/mfa/start", data={"current": PASSWORD}).headers["Location"] == "/account/mfa"
    page = client.get("/account/mfa").get_data(as_text=True)
    assert "<svg" in page and 'action="/account/mfa"' in page
    secret = page.split('id="totp-key">')[1].split("<")[0]
    assert secret != secret_of("op")
    assert client.post("/account/mfa", data={"code": "000000" if totp.code_at(secret, totp.step_of(clock())) != "000000"
                                              else "111111"}).status_code == 400
    clock.advance(seconds=30)
    r = client.post("/account/mfa", data={"code": totp.code_at(secret, totp.step_of(clock()))}, follow_redirects=True)
    assert b"new second factor is set up" in r.data
    [event] = chain(app, "mfa changed")
    assert event.username == "op"
    client.post("/logout")
    clock.advance(seconds=30)
    password_step(client, "op")
    assert client.post("/login/code", data={"code": totp.code_at(secret_of("op"), totp.step_of(clock()))}
                       ).status_code == 401  # the old key is gone
    clock.advance(seconds=30)
    password_step(client, "op")
    assert client.post("/login/code", data={"code": totp.code_at(secret, totp.step_of(clock()))}).status_code == 302


def test_every_role_reaches_my_account_but_only_administrators_the_users_page(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "aud")
    page = client.get("/account")
    assert page.status_code == 200 and b"aud, auditor" in page.data and b'href="/account"' in page.data
    assert b'href="/users"' not in page.data and client.get("/users").status_code == 403
