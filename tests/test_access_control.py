"""Access control through the real app and a real store: roles, training gate, MFA, lockout, sessions.

POLICY AC-2..AC-8, TR-1, TR-2. Time is a fake clock passed to the app, so the 30-minute idle
limit, the 12-hour re-authentication and TOTP steps are tested without waiting.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance import totp, training, users
from appliance.audit import records
from appliance.errors import AccountError
from appliance.passwords import check_password
from appliance.hotlists.model import Entry, Hotlist
from appliance.hotlists.repository import replace_list
from appliance.store import Store
from test_store import T0, make_read
from webui import access, create_app

PASSWORD = "purple elephant marching slowly"
ROLE_USERS = {"admin": "administrator", "sup": "supervisor", "op": "operator", "aud": "auditor", "rec": "records_manager"}
START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """One enrolled, trained user per role, an untrained operator, a never-enrolled operator, one read."""
    folder = tmp_path / "store"
    cheap = users.cheap_hasher()
    with Store.open(folder) as s:
        s.add_read(make_read("7ABC123", at=T0, seed=1))
        replace_list(s, Hotlist("list-1", "Stolen", "stolen_vehicle"), [Entry(
            "entry-1", "list-1", "9XYZ999", "admin", START, reason="stolen", expires_at=START + timedelta(days=30),
            manual=True)], "admin", now=START)  # the hotlist routes' list_id and entry_id
        for name, role in {**ROLE_USERS, "untrained": "operator", "newbie": "operator", "target": "operator"}.items():
            u = users.create_user(s, name, PASSWORD, role, hasher=cheap, now=START)
            if name != "newbie":
                totp.enrol_with_secret(s, u.id, secret_of(name), actor="test", now=START)
            if name != "untrained":
                training.add_record(s, name, "ALPR use", "2026.1", date(2026, 11, 1), date(2027, 10, 31),
                                    actor="admin", now=START)
    return folder


def secret_of(name: str) -> str:
    return (name.upper().replace("_", "") * 32)[:32].translate(str.maketrans("01890", "ABCDE"))


@pytest.fixture
def app(folder: Path, clock: Clock):
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False,
                              "password_hasher": users.cheap_hasher(), "clock": clock})
    yield app
    app.extensions["alpr"].store.close()


def store_of(app) -> Store:
    return app.extensions["alpr"].store


def password_step(client, name: str, password: str = PASSWORD):
    return client.post("/login", data={"username": name, "password": password, "banner": "y"})


def sign_in(client, clock: Clock, name: str) -> None:
    clock.advance(seconds=30)  # a fresh TOTP step: the previous sign-in's code is used up
    r = password_step(client, name)
    assert r.status_code == 302 and r.headers["Location"] == "/login/code", r.data
    code = totp.code_at(secret_of(name), totp.step_of(clock()))
    r = client.post("/login/code", data={"code": code})
    assert r.status_code == 302 and r.headers["Location"] == "/", r.data


def routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, concrete URL) for every route the app has."""
    read_id = store_of(app).latest_reads(1)[0].id
    values = {"read_id": read_id, "kind": "crop", "username": "target", "list_id": "list-1", "entry_id": "entry-1"}
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        method = "POST" if "POST" in rule.methods and "GET" not in rule.methods else "GET"
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", values[arg])
        out.append((rule.endpoint, method, url))
    return sorted(out, key=lambda r: r[0] == "auth.logout")  # sign-out last


def test_every_route_has_an_access_rule(app) -> None:
    """Fail closed by design, and the table complete: a new page must be added to access.RULES."""
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    missing = endpoints - set(access.RULES) - access.PUBLIC - access.PENDING
    assert not missing, f"routes without an access rule: {missing}"


def test_permission_matrix_without_a_session(app) -> None:
    client = app.test_client()
    for endpoint, method, url in routes(app):
        r = client.open(url, method=method)
        if endpoint in access.PUBLIC:
            assert r.status_code == 200, url
        elif endpoint in access.HUB_API:  # hub tokens only: 401, never a sign-in page
            assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), url
        else:  # POLICY AC-2: nothing but sign-in without a session (pending pages send back to step one)
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), url


@pytest.mark.parametrize("name", [*ROLE_USERS, "untrained"])
def test_permission_matrix_for_each_role(app, clock, name) -> None:
    """POLICY AC-2, TR-1: each route allowed or refused (403, with a page saying why) as access.RULES says."""
    client = app.test_client()
    sign_in(client, clock, name)
    role = users.find_user(store_of(app), name).role
    for endpoint, method, url in routes(app):
        r = client.open(url, method=method)
        if endpoint in access.PUBLIC or endpoint in access.PENDING:
            assert r.status_code in (200, 302), url  # signed in already: sent on
            continue
        rule = access.RULES[endpoint]
        if role not in rule.roles:
            assert r.status_code == 403 and b"does not give access" in r.data, (name, url)
        elif rule.data and name == "untrained":
            assert r.status_code == 403 and b"training record" in r.data, (name, url)
        elif method == "POST" and endpoint.startswith("hotlists."):  # let in, then refused for its empty form
            assert r.status_code == 400, (name, url, r.status_code)
        else:
            assert r.status_code in (200, 302), (name, url, r.status_code)
            if r.status_code == 302:  # form posts go back to their page, sign-out to sign-in
                assert r.headers["Location"] in ("/users", "/login", "/users/target/training", "/settings",
                                                 "/account"), url


def test_expired_training_suspends_data_access(app, clock) -> None:
    training.add_record(store_of(app), "untrained", "ALPR use", "2026.1", date(2026, 11, 1), date(2026, 12, 1),
                        actor="admin", now=START)
    client = app.test_client()
    sign_in(client, clock, "untrained")
    assert client.get("/").status_code == 200  # the last day the record counts
    clock.now = datetime(2026, 12, 2, 0, 5, tzinfo=timezone.utc)  # the day after the record's expiry
    assert client.get("/").status_code == 302  # the night's idle time ended the session
    sign_in(client, clock, "untrained")
    r = client.get("/")
    assert r.status_code == 403 and b"training is missing or has expired" in r.data
    assert client.get("/health").status_code == 200  # not plate data


def test_training_records_are_logged_with_their_author(app) -> None:
    s = store_of(app)
    training.add_record(s, "untrained", "ALPR use", "2026.2", date(2026, 11, 30), date(2027, 11, 30),
                        actor="admin", now=START)
    assert ("admin", "untrained", "training recorded") in [(a, u, e) for _, a, u, e, _ in users.events(s)]
    with pytest.raises(AccountError, match="before completed"):
        training.add_record(s, "op", "ALPR use", "1", date(2026, 11, 30), date(2026, 1, 1), actor="admin", now=START)


def test_the_banner_must_be_acknowledged(app) -> None:
    client = app.test_client()
    r = client.post("/login", data={"username": "op", "password": PASSWORD})
    assert r.status_code == 401 and b"Acknowledge the notice" in r.data
    assert b"monitored and recorded" in client.get("/login").data  # POLICY AC-8


def test_five_failures_lock_until_an_administrator_unlocks(app, clock) -> None:
    client = app.test_client()
    for _ in range(5):
        clock.advance(minutes=2)
        assert password_step(client, "op", "wrong password, long enough").status_code == 401
    r = password_step(client, "op")  # the right password no longer works
    assert r.status_code == 401 and b"Invalid username or password." in r.data
    assert users.find_user(store_of(app), "op").locked
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    assert b"locked" in admin.get("/users").data
    assert admin.post("/users/op/unlock").status_code == 302
    sign_in(client, clock, "op")
    assert client.get("/").status_code == 200
    events = [e for _, _, u, e, _ in users.events(store_of(app), "op")]
    assert "locked" in events and "unlocked" in events


def test_failures_spread_over_more_than_15_minutes_do_not_lock(app, clock) -> None:
    client = app.test_client()
    for _ in range(6):
        clock.advance(minutes=4)
        password_step(client, "op", "wrong password, long enough")
    assert not users.find_user(store_of(app), "op").locked
    sign_in(client, clock, "op")


def test_wrong_codes_count_towards_the_lockout(app, clock) -> None:
    """AC-6, LG-6: each wrong code is a recorded refusal from the client's address; the fifth locks, recorded too."""
    client = app.test_client()
    for _ in range(5):
        password_step(client, "op")
        client.post("/login/code", data={"code": "000000" if totp.code_at(secret_of("op"), totp.step_of(clock()))
                                         != "000000" else "111111"})
    assert users.find_user(store_of(app), "op").locked
    recs = [r for r in records.latest(store_of(app), 100) if r.username == "op"]
    assert [r.query for r in recs if r.action == "sign-in failure"] == [{"step": "second factor"}] * 5
    [locked] = [r for r in recs if r.action == "account locked"]
    assert locked.query == {"after": "second factor"} and locked.client == "127.0.0.1" and locked.outcome == "refused"


def test_a_key_set_directly_is_a_security_event_in_the_chain(folder) -> None:
    """LG-6: provisioning and the demo set an account's TOTP key themselves; the chain records it."""
    with Store.open(folder) as s:
        recs = [r for r in records.latest(s, 1000) if r.action == "mfa enrolled"]
    assert sorted(r.username for r in recs) == sorted(n for n in [*ROLE_USERS, "untrained", "target"])
    assert all(r.query == {"by": "test", "how": "key set directly"} and r.client == "local" for r in recs)


def test_enrolment_by_qr_code_then_sign_in(app, clock) -> None:
    client = app.test_client()
    r = password_step(client, "newbie")
    assert r.headers["Location"] == "/login/enrol"
    assert client.get("/").status_code == 302  # not signed in before the second factor
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and 'id="totp-key"' in page
    secret = page.split('id="totp-key">')[1].split("<")[0]
    assert client.post("/login/enrol", data={"code": "123456" if totp.code_at(secret, totp.step_of(clock())) != "123456"
                                              else "654321"}).status_code == 401
    r = client.post("/login/enrol", data={"code": totp.code_at(secret, totp.step_of(clock()))})
    assert r.status_code == 302 and client.get("/").status_code == 200
    assert users.find_user(store_of(app), "newbie").mfa_enrolled
    client.post("/logout")
    clock.advance(seconds=30)
    password_step(client, "newbie")
    r = client.post("/login/code", data={"code": totp.code_at(secret, totp.step_of(clock()))})
    assert r.status_code == 302 and client.get("/").status_code == 200


def test_a_replayed_code_is_refused(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    used = totp.code_at(secret_of("op"), totp.step_of(clock()))
    client.post("/logout")
    other = app.test_client()
    password_step(other, "op")
    r = other.post("/login/code", data={"code": used})  # same step, same code: an eavesdropper's replay
    assert r.status_code == 401 and b"already used" in r.data
    assert other.get("/").status_code == 302
    earlier = totp.code_at(secret_of("op"), totp.step_of(clock()) - 1)
    assert not totp.verify_code(store_of(app), users.find_user(store_of(app), "op").id, earlier, clock())


def test_mfa_cannot_be_relaxed_for_administrators(app, clock) -> None:
    with pytest.raises(AccountError, match="administrator"):
        users.set_mfa_required(store_of(app), "admin", False, actor="admin")
    users.set_mfa_required(store_of(app), "op", False, actor="admin")
    client = app.test_client()
    assert password_step(client, "op").headers["Location"] == "/"


def test_disabling_a_user_ends_their_live_session(app, clock) -> None:
    victim, admin = app.test_client(), app.test_client()
    sign_in(victim, clock, "op")
    assert victim.get("/").status_code == 200
    sign_in(admin, clock, "admin")
    assert admin.post("/users/op/disable").status_code == 302
    r = victim.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert password_step(victim, "op").status_code == 401


def test_idle_sessions_end_after_30_minutes(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200  # activity resets the idle timer
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=31)
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert b"30 minutes without activity" in client.get("/login").data


def test_sessions_end_12_hours_after_sign_in(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    for _ in range(25):  # busy all day, never idle
        clock.advance(minutes=29)
        if client.get("/health").status_code != 200:
            break
    assert clock() - START <= timedelta(hours=12, minutes=30)
    assert b"12 hours since sign-in" in client.get("/login").data


def test_accounts_inactive_90_days_are_disabled(app, clock) -> None:
    s = store_of(app)
    later = START + timedelta(days=91)
    assert set(users.disable_inactive(s, later)) >= {"op", "aud"}
    assert users.find_user(s, "op").disabled
    clock.now = later
    assert password_step(app.test_client(), "rec").status_code == 401  # and at sign-in too
    assert users.find_user(s, "rec").disabled


@pytest.mark.parametrize("password, words", [
    ("short one", "15 to 1024 characters"), ("qwertyuiopqwertyuiop", "common passwords"),
    ("12345678901234567890", "common passwords"), ("my name is op and so on", "username"), ("abababababababab", "too few"),
])
def test_password_rules(password, words) -> None:
    with pytest.raises(AccountError, match=words):
        check_password(password, username="op" if "op" in password else "someone")
    check_password("a few random words here")
    with pytest.raises(AccountError, match="common"):
        check_password("password1", min_length=8)
    with pytest.raises(AccountError, match="below 8"):
        check_password("whatever it is", min_length=7)
