"""Command-line sign-in (POLICY AC-10) by the web sign-in's rules, and the daily inactivity sweep (AC-3).

Real stores (the access-control fixtures: one enrolled, trained user per role); time is
passed in, so TOTP steps and 90 days of inactivity need no waiting. A refusal is a
SignInError, which `alpr` prints and turns into exit code 2.
"""

from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta, timezone

import pytest

from appliance import cli_auth, totp, users
from appliance.audit import records
from appliance.config import Config, StoreConfig
from appliance.errors import AlprError, SignInError
from appliance.runtime import store_housekeeping
from appliance.store import Store
from test_access_control import PASSWORD, START, folder, secret_of  # noqa: F401 - fixtures

CHEAP = users.cheap_hasher()


class Tty(io.StringIO):
    """Standard input that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def store(folder):  # noqa: F811
    with Store.open(folder) as s:
        yield s


def code(name: str, at: datetime) -> str:
    return totp.code_at(secret_of(name), totp.step_of(at))


def sign_in(store, name: str, *, password: str = PASSWORD, at: datetime = START, otp: str | None = None, **kw):
    return cli_auth.authenticate_cli(store, name, stdin=io.StringIO(""), env={"ALPR_PASSWORD": password},
                                     code=otp or code(name, at), hasher=CHEAP, now=at, **kw)


def events(store, action: str) -> list[records.StoredRecord]:
    return [r for r in reversed(records.latest(store, 1000)) if r.action == action and r.client == "cli"]


def test_a_trained_user_signs_in_with_password_and_code(store) -> None:
    """AC-10: a named user; the sign-in is a security event in the chain (LG-6)."""
    who = sign_in(store, "op")
    assert (who.username, who.role, who.client) == ("op", "operator", "cli")
    [event] = events(store, "sign-in")
    assert event.username == "op" and event.purpose_category == "security event"
    assert ("op", "op", "signed in") in [(a, u, e) for _, a, u, e, _ in users.events(store)]


def test_a_wrong_password_is_refused_and_counts_towards_the_lockout(store) -> None:
    """AC-5, AC-6: five failures lock; the message then says so and what to do."""
    for i in range(4):
        with pytest.raises(SignInError, match="invalid username or password"):
            sign_in(store, "op", password="not the password at all", at=START + timedelta(minutes=i))
    with pytest.raises(SignInError, match="locked after 5 failed sign-ins.*alpr user unlock op"):
        sign_in(store, "op", password="not the password at all", at=START + timedelta(minutes=5))
    with pytest.raises(SignInError, match="locked"):  # the right password no longer helps
        sign_in(store, "op", at=START + timedelta(minutes=6))
    assert len(events(store, "sign-in failure")) == 6 and events(store, "account locked")
    users.unlock(store, "op", actor="admin")
    sign_in(store, "op", at=START + timedelta(minutes=7))


def test_wrong_codes_are_recorded_and_lock_like_on_the_web(store) -> None:
    """AC-6, LG-6: the command line counts and records a wrong code as the web UI does (users.second_factor_failed)."""
    for i in range(5):
        at = START + timedelta(minutes=i)
        with pytest.raises(SignInError, match="wrong, expired or already used"):
            sign_in(store, "op", at=at, otp="000000" if code("op", at) != "000000" else "111111")
    assert users.find_user(store, "op").locked
    assert [r.query for r in events(store, "sign-in failure")] == [{"step": "second factor"}] * 5
    [locked] = events(store, "account locked")
    assert locked.query == {"after": "second factor"} and locked.outcome == "refused"


def test_an_unknown_name_gets_the_same_words_as_a_wrong_password(store) -> None:
    with pytest.raises(SignInError) as exc:
        sign_in(store, "nobody", otp="123456")
    assert str(exc.value) == cli_auth.FAILED


def test_a_replayed_code_is_refused(store) -> None:
    """AC-4: a code is accepted once, on the web or here."""
    sign_in(store, "op")
    with pytest.raises(SignInError, match="already used"):
        sign_in(store, "op")  # same step, same code
    with pytest.raises(SignInError, match="wrong, expired or already used"):
        sign_in(store, "op", at=START + timedelta(seconds=30), otp="000000" if code("op", START + timedelta(
            seconds=30)) != "000000" else "111111")
    sign_in(store, "op", at=START + timedelta(seconds=60))


def test_an_untrained_user_is_refused(store) -> None:
    """TR-1: no current training record, no plate data on the command line either."""
    with pytest.raises(SignInError, match="current training record"):
        sign_in(store, "untrained")
    assert events(store, "sign-in") == [] and events(store, "sign-in failure")[0].query["step"] == "training"


def test_a_disabled_user_is_refused(store) -> None:
    """AC-3: disabled by an administrator, or after 90 days without a sign-in."""
    users.disable(store, "sup", actor="admin", reason="left the agency")
    with pytest.raises(SignInError, match="account sup is disabled"):
        sign_in(store, "sup")
    with pytest.raises(SignInError, match="account op is disabled"):
        sign_in(store, "op", at=START + timedelta(days=91))
    assert users.find_user(store, "op").disabled


def test_roles_without_plate_data_are_refused(store) -> None:
    """AC-2: auditors and records managers see no plate data."""
    with pytest.raises(SignInError, match="role \\(auditor\\) does not give access"):
        sign_in(store, "aud")
    later = START + timedelta(seconds=30)  # the refused sign-in used up its code
    assert sign_in(store, "aud", at=later, roles=frozenset({"auditor"})).role == "auditor"


def test_a_script_without_credentials_is_told_which_options_to_give(store) -> None:
    with pytest.raises(SignInError, match="give --user NAME"):
        cli_auth.authenticate_cli(store, None, stdin=io.StringIO(""), env={})
    with pytest.raises(SignInError, match="--password-file FILE or ALPR_PASSWORD"):
        cli_auth.authenticate_cli(store, "op", stdin=io.StringIO(""), env={})
    with pytest.raises(SignInError, match="--totp CODE or ALPR_TOTP"):
        cli_auth.authenticate_cli(store, "op", stdin=io.StringIO(""), env={"ALPR_PASSWORD": PASSWORD}, hasher=CHEAP,
                                  now=START)
    assert issubclass(SignInError, AlprError)  # cli.main prints it and exits 2


def test_at_a_terminal_it_asks(store) -> None:
    asked = []

    def prompt(question: str) -> str:
        asked.append(question)
        return PASSWORD if question == "Password: " else code("op", START)
    who = cli_auth.authenticate_cli(store, None, stdin=Tty("op\n"), env={}, prompt=prompt, hasher=CHEAP, now=START)
    assert who.username == "op" and asked == ["Password: ", "Authenticator code: "]


def test_the_shared_options_and_a_password_file(store, tmp_path) -> None:
    p = argparse.ArgumentParser()
    cli_auth.add_auth_arguments(p)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    a = p.parse_args(["--user", "op", "--password-file", str(secret), "--totp", code("op", START)])
    who = cli_auth.authenticate_cli(store, a.user, stdin=io.StringIO(""), env={}, password_file=a.auth_password_file,
                                    code=a.totp, hasher=CHEAP, now=START)
    assert who.username == "op"
    with pytest.raises(SignInError, match="no password in"):
        cli_auth.authenticate_cli(store, "op", stdin=io.StringIO(""), env={}, password_file="-", hasher=CHEAP)


# -- the daily inactivity sweep ---------------------------------------------------------------------------

def test_the_sweep_disables_idle_accounts_and_logs_it(store) -> None:
    """AC-3, LG-6: 90 days without a sign-in; the chain names the system as the actor."""
    later = START + timedelta(days=91)
    sign_in(store, "op", at=START + timedelta(days=2))  # recent enough
    assert "op" not in users.disable_inactive(store, START + timedelta(days=91))
    assert users.find_user(store, "sup").disabled and not users.find_user(store, "op").disabled
    [rec] = [r for r in records.latest(store, 1000) if r.action == "account disabled" and r.query["account"] == "sup"]
    assert rec.username == "system" and "inactive for 90 days" in rec.query["detail"]
    assert users.find_user(store, "sup").session_epoch == 1  # live sessions end
    assert users.disable_inactive(store, later) == []  # already done


def test_the_device_housekeeping_runs_the_sweep(tmp_path) -> None:
    """The device process's daily housekeeping (runtime.py) calls the sweep."""
    cfg = Config(store=StoreConfig(path=tmp_path / "store"))
    long_ago = datetime.now(timezone.utc) - timedelta(days=120)
    with Store.open(cfg.store.path) as s:
        users.create_user(s, "idle", PASSWORD, "operator", hasher=CHEAP, now=long_ago)
        store_housekeeping(cfg, s)()
        assert users.find_user(s, "idle").disabled
