"""`alpr serve` over real TLS on loopback (cheroot), and plain HTTP refused off loopback (POLICY DS-1)."""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import ssl
import stat
import threading
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from appliance import users
from appliance.config import Config
from appliance.errors import ConfigError
from appliance.serve import ensure_self_signed, serve
from appliance.store import Store


def config(tmp_path: Path, **web) -> Config:
    base = Config()
    return replace(base, store=replace(base.store, path=tmp_path / "data" / "store"),
                   web=replace(base.web, **{"host": "127.0.0.1", "port": 0, **web}))


def test_serves_https_with_a_self_signed_certificate_hsts_and_secure_cookies(tmp_path: Path) -> None:
    cfg = config(tmp_path, tls=True)
    with Store.open(cfg.store.path) as s:
        users.create_user(s, "olga", "purple elephant marching slowly", "operator", hasher=users.cheap_hasher())
    stop, ready = threading.Event(), []
    t = threading.Thread(target=serve, args=(cfg,), kwargs={"stop": stop, "ready": ready.append,
                         "app_config": {"WTF_CSRF_ENABLED": False, "password_hasher": users.cheap_hasher()}})
    t.start()
    try:
        for _ in range(100):
            if ready:
                break
            stop.wait(0.1)
        url = ready[0]
        assert url.startswith("https://127.0.0.1:")
        key = tmp_path / "data" / "tls" / "web.key"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        ctx = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "web.crt"))
        ctx.check_hostname = False  # the certificate names localhost and 127.0.0.1 by SAN; IP check below
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx),
                                             urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(f"{url}/login", timeout=10) as r:
            assert r.status == 200 and b"Restricted system" in r.read()
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")
        data = b"username=olga&password=purple+elephant+marching+slowly&banner=y"
        with opener.open(urllib.request.Request(f"{url}/login", data=data), timeout=10) as r:
            assert r.url.endswith("/login/enrol")  # followed the redirect to the second factor
        strict = ssl.create_default_context(cafile=str(tmp_path / "data" / "tls" / "web.crt"))
        with urllib.request.urlopen(f"{url}/login", context=strict, timeout=10) as r:  # SAN IP 127.0.0.1 checks out
            assert r.status == 200
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):  # no plain HTTP
            urllib.request.urlopen(url.replace("https", "http") + "/login", timeout=5)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(str(tmp_path / "data" / "tls" / "web.crt"))
        old.check_hostname = False
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"{url}/login", context=old, timeout=5)
    finally:
        stop.set()
        t.join(10)


def test_secure_cookie_flag_over_tls(tmp_path: Path) -> None:
    from webui import create_app
    cfg = config(tmp_path)
    app = create_app(cfg.store.path, {"SESSION_COOKIE_SECURE": True, "TESTING": True, "WTF_CSRF_ENABLED": False})
    r = app.test_client().post("/login", base_url="https://localhost", data={"username": "x", "password": "y" * 20,
                                                                             "banner": "y"})
    assert r.status_code == 401
    r = app.test_client().get("/login", base_url="https://localhost")
    assert r.headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers  # not over plain HTTP
    app.extensions["alpr"].store.close()


def test_plain_http_is_refused_off_loopback(tmp_path: Path) -> None:
    cfg = config(tmp_path, host="0.0.0.0", tls=False)
    with pytest.raises(ConfigError, match="loopback"):
        serve(cfg, stop=threading.Event())


def test_the_certificate_is_made_once(tmp_path: Path) -> None:
    cert, key = ensure_self_signed(tmp_path / "tls", "127.0.0.1")
    first = cert.read_bytes()
    assert ensure_self_signed(tmp_path / "tls", "127.0.0.1") == (cert, key) and cert.read_bytes() == first
