"""The web UI through Flask's test client, on a real store folder written as the pipeline would."""

from __future__ import annotations

import os
import re
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from appliance import training, users
from appliance.ids import uuid7
from appliance.store import Store
from test_store import T0, make_read, pattern
from webui import create_app
from webui.auth import safe_next

PASSWORD = "correct horse battery staple"
PLATES = ["7ABC123", "8XYZ987", "5KLM456"]


@pytest.fixture
def store_folder(tmp_path: Path) -> Path:
    """Three reads (the last is newest) and one administrator, written by a separate Store."""
    folder = tmp_path / "store"
    with Store.open(folder) as s:
        for i, text in enumerate(PLATES):
            s.add_read(make_read(text, at=T0 + timedelta(seconds=30 * i), seed=i, frame=pattern(360, 640, i)))
        # an operator whose second factor an administrator relaxed (AC-4 allows it for non-administrators),
        # trained: these tests are about the pages; test_access_control.py covers MFA and the gates
        users.create_user(s, "alice", PASSWORD, "operator", hasher=users.cheap_hasher())
        users.set_mfa_required(s, "alice", False, actor="test")
        today = datetime.now(timezone.utc)
        training.add_record(s, "alice", "ALPR use", "2026.1", today.date(), today.date() + timedelta(days=365),
                            actor="test", now=today)
    return folder


def build(store_folder: Path, **options):
    config = {"TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
              "password_hasher": users.cheap_hasher()}
    config.update(options)
    return create_app(store_folder, config)


@pytest.fixture
def app(store_folder: Path):
    app = build(store_folder)
    yield app
    app.extensions["alpr"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def sign_in(client, username: str = "alice", password: str = PASSWORD, next_: str | None = None):
    url = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(url, data={"username": username, "password": password, "banner": "y"})


def read_ids(store_folder: Path) -> list[str]:
    with Store.open(store_folder) as s:
        return [r.id for r in s.latest_reads(10)]


@pytest.mark.parametrize("path", ["/", "/health", "/health.json", "/reads/x/crop", "/no/such/page"])
def test_every_page_but_sign_in_needs_a_signed_in_user(client, path) -> None:
    r = client.get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


def test_sign_in_page_and_static_files_are_public(client) -> None:
    assert client.get("/login").status_code == 200
    css = client.get("/static/style.css")
    assert css.status_code == 200 and b"font" in css.data


@pytest.mark.parametrize("username, password", [("alice", "wrong password, long enough"), ("mallory", PASSWORD)])
def test_a_wrong_name_or_password_is_refused_with_the_same_words(client, username, password) -> None:
    r = sign_in(client, username, password)
    assert r.status_code == 401
    assert b"Invalid username or password." in r.data
    assert client.get("/").status_code == 302


def test_after_sign_in_the_landing_page_lists_the_latest_reads(client, store_folder) -> None:
    r = sign_in(client)
    assert r.status_code == 302 and r.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    positions = [html.index(f'<td class="plate">{p}</td>') for p in PLATES]
    assert positions == sorted(positions, reverse=True)  # newest (last written) first
    assert '<time datetime="2026-11-30T04:22:07.183Z">2026-11-30 04:22:07 UTC</time>' in html  # newest, UTC
    assert "93 %" in html
    for read_id in read_ids(store_folder):
        assert f'src="/reads/{read_id}/crop' in html  # the link may name the covering access record (?via=)
    assert 'src="/static/refresh.js"' in html


def test_new_reads_show_up_on_the_next_page_load(client, app) -> None:
    sign_in(client)
    with Store.open(app.extensions["alpr"].store.folder) as pipeline:
        pipeline.add_read(make_read("NEW1234", at=T0 + timedelta(minutes=5), seed=7))
    assert '<td class="plate">NEW1234</td>' in client.get("/").get_data(as_text=True)


def test_images_are_served_to_signed_in_users_only(client, store_folder) -> None:
    newest = read_ids(store_folder)[0]
    assert client.get(f"/reads/{newest}/crop").status_code == 302
    sign_in(client)
    for kind, shape in (("crop", (64, 192, 3)), ("frame", (360, 640, 3))):
        r = client.get(f"/reads/{newest}/{kind}")
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        assert r.headers["Cache-Control"] == "no-store"
        img = cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == shape
    assert client.get(f"/reads/{uuid7()}/crop").status_code == 404
    assert client.get("/reads/..%2f..%2falpr.db/crop").status_code == 404


def test_sign_out_ends_the_session(client) -> None:
    sign_in(client)
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_csrf_token_is_required_on_the_sign_in_form(store_folder) -> None:
    app = build(store_folder, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    r = sign_in(client)
    assert r.status_code == 400 and b"security token" in r.data
    assert client.get("/").status_code == 302
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token, "the sign-in form carries a CSRF token"
    r = client.post("/login", data={"username": "alice", "password": PASSWORD, "banner": "y",
                                      "csrf_token": token.group(1)})
    assert r.status_code == 302 and client.get("/").status_code == 200
    assert client.post("/logout").status_code == 400  # sign-out needs the token too
    app.extensions["alpr"].store.close()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "/%09/evil.example", "javascript:alert(1)", "http:/evil.example"])
def test_sign_in_never_redirects_off_site(client, target) -> None:
    r = sign_in(client, next_=target)
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_sign_in_returns_to_a_local_next_page(client) -> None:
    assert client.get("/health").headers["Location"] == "/login?next=/health"
    r = sign_in(client, next_="/health")
    assert r.headers["Location"] == "/health"


@pytest.mark.parametrize("target, expected", [("/reads/1/crop?x=1", "/reads/1/crop?x=1"), (None, "/"),
                                              ("/\t/evil", "/"), ("https:///evil", "/"), ("relative", "/")])
def test_safe_next(target, expected) -> None:
    assert safe_next(target) == expected


def test_security_headers_and_cookie_flags(client) -> None:
    for r in (client.get("/login"), sign_in(client), client.get("/")):
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    cookie = sign_in(client).headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


def test_health_without_a_provider_says_the_pipeline_is_not_running(client) -> None:
    sign_in(client)
    assert "Pipeline not running" in client.get("/health").get_data(as_text=True)
    assert client.get("/health.json").get_json() == {"status": "not running"}


def test_health_shows_what_the_provider_reports(store_folder) -> None:
    counters = {"frames_captured": 1200, "frames_processed": 1150, "frames_dropped": 50, "fps": 14.96,
                "queue_depth": 2, "last_read_time": T0}
    app = build(store_folder, health_provider=lambda: counters)
    client = app.test_client()
    sign_in(client)
    html = client.get("/health").get_data(as_text=True)
    for label, value in (("Frames captured", "1200"), ("Frames dropped", "50"), ("Frames per second", "15.0"),
                         ("Queue depth", "2"), ("Last read (UTC)", "2026-11-30T04:21:07.183Z")):
        assert f"<th>{label}</th><td>{value}</td>" in html
    counters["frames_captured"] = 1300  # the page asks the provider on every load
    assert client.get("/health.json").get_json()["frames_captured"] == 1300
    app.extensions["alpr"].store.close()


def test_a_failing_provider_does_not_take_the_page_down(store_folder) -> None:
    def broken() -> dict:
        raise RuntimeError("camera thread died")
    app = build(store_folder, health_provider=broken)
    client = app.test_client()
    sign_in(client)
    r = client.get("/health")
    assert r.status_code == 200 and "Health unavailable" in r.get_data(as_text=True)
    app.extensions["alpr"].store.close()


def test_unknown_options_are_refused_by_name(store_folder) -> None:
    with pytest.raises(ValueError, match="unknown web UI option.* healthprovider; the options are health_provider"):
        create_app(store_folder, {"healthprovider": dict})


def test_the_session_key_is_made_once_and_kept_private(store_folder) -> None:
    apps = [create_app(store_folder, {"password_hasher": users.cheap_hasher()}) for _ in range(2)]
    key_file = store_folder / "webui-secret.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert apps[0].config["SECRET_KEY"] == apps[1].config["SECRET_KEY"] == key_file.read_bytes()
    for a in apps:
        a.extensions["alpr"].store.close()


def test_health_lists_certificates_and_warns_thirty_days_ahead(store_folder, tmp_path) -> None:
    """Issue #12: expiry warnings on the health page (the heartbeat carries the same report)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from appliance.config import build as build_config
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pole-7")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=300)).not_valid_after(now + timedelta(days=12))
            .sign(key, hashes.SHA256()))
    (tmp_path / "device.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "device.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    cfg = build_config({"store": {"path": str(store_folder)}, "web": {"tls": False, "host": "127.0.0.1"},
                        "hub": {"url": "https://hub.example", "client_cert": str(tmp_path / "device.crt"),
                                "client_private_pem": str(tmp_path / "device.key")}}, {})
    app = build(store_folder, appliance_config=cfg)
    client = app.test_client()
    sign_in(client)
    html = client.get("/health").get_data(as_text=True)
    assert f"{tmp_path / 'device.crt'}</th>" in html and "expires in 12 days" in html
    app.extensions["alpr"].store.close()
