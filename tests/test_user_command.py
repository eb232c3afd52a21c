"""`alpr user create | unlock | train` on a real store, and the demo's administrator (DESIGN demo contract)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyotp

from appliance import demo, training, users
from appliance.store import Store
from appliance.user_command import main
from webui import create_app

PASSWORD = "purple elephant marching slowly"


def test_create_with_a_generated_password_printed_once(tmp_path: Path, capsys) -> None:
    assert main(["user", "create", "--role", "administrator", "chief", "--store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    assert len(password) >= 15
    with Store.open(tmp_path / "s") as s:
        assert users.verify(s, "chief", password).role == "administrator"
        assert ("cli:", "created") == (users.events(s, "chief")[0][1][:4], users.events(s, "chief")[0][3])


def test_create_from_a_password_file_and_from_stdin(tmp_path: Path, capsys, monkeypatch) -> None:
    f = tmp_path / "pw"
    f.write_text(PASSWORD + "\n")
    store = ["--store", str(tmp_path / "s")]
    assert main(["user", "create", "--role", "operator", "olga", "--password-file", str(f), *store]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + " too\n"))
    assert main(["user", "create", "--role", "auditor", "artur", "--password-file", "-", *store]) == 0
    assert "password:" not in capsys.readouterr().out
    with Store.open(tmp_path / "s") as s:
        assert users.verify(s, "olga", PASSWORD).role == "operator"
        assert users.verify(s, "artur", PASSWORD + " too").role == "auditor"


def test_bad_requests_say_what_is_wrong(tmp_path: Path, capsys) -> None:
    f = tmp_path / "pw"
    f.write_text("password1\n")
    store = ["--store", str(tmp_path / "s")]
    assert main(["user", "create", "--role", "operator", "olga", "--password-file", str(f), *store]) == 2
    assert "15 to 1024 characters" in capsys.readouterr().err
    f.write_text("qwertyuiopqwertyuiop\n")
    assert main(["user", "create", "--role", "operator", "olga", "--password-file", str(f), *store]) == 2
    assert "common passwords" in capsys.readouterr().err
    assert main(["user", "unlock", "nobody", *store]) == 2
    assert "no user named 'nobody'" in capsys.readouterr().err


def test_unlock_and_train(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "s"
    now = datetime.now(timezone.utc)
    with Store.open(folder) as s:
        u = users.create_user(s, "olga", PASSWORD, "operator", hasher=users.cheap_hasher())
        for i in range(5):
            users.record_failure(s, u.id, now + timedelta(seconds=i))
        assert users.find_user(s, "olga").locked
    assert main(["user", "unlock", "olga", "--store", str(folder)]) == 0
    expires = (now.date() + timedelta(days=365)).isoformat()
    assert main(["user", "train", "olga", "--course", "ALPR operator", "--version", "2026.1", "--expires", expires,
                 "--store", str(folder)]) == 0
    with Store.open(folder) as s:
        assert not users.find_user(s, "olga").locked
        record = training.current_record(s, u.id, now.date())
        assert (record.course, record.version, record.expires.isoformat()) == ("ALPR operator", "2026.1", expires)
        assert record.entered_by.startswith("cli:")


def test_demo_administrator_signs_in_with_password_and_totp_and_sees_plates(tmp_path: Path) -> None:
    """DESIGN demo contract: username, password and the TOTP code from totp_secret show the reads."""
    from test_store import T0, make_read
    folder = tmp_path / "store"
    with Store.open(folder) as s:
        s.add_read(make_read("7ABC123", at=T0, seed=1))
        password, secret = demo.prepare_demo_user(s)
        password2, secret2 = demo.prepare_demo_user(s)  # a re-used folder gets fresh credentials
        assert (password2, secret2) != (password, secret)
        assert users.find_user(s, "demo").role == "administrator"
        assert training.current_record(s, users.find_user(s, "demo").id, date.today()) is not None
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    r = client.post("/login", data={"username": "demo", "password": password2, "banner": "y"})
    assert r.headers["Location"] == "/login/code"
    assert client.post("/login/code", data={"code": pyotp.TOTP(secret2).now()}).status_code == 302
    assert '<td class="plate">7ABC123</td>' in client.get("/").get_data(as_text=True)
    app.extensions["alpr"].store.close()
