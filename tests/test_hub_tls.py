"""The hub link over HTTPS (issue #6, POLICY SH-1, DS-1): the hub's CA pinned, TLS >= 1.2, mTLS, tokens.

A real recording hub serves HTTPS on loopback with certificates from a throw-away CA
(tests/pki.py). Whatever is wrong (a certificate from another CA, an expired one, a
wrong token, no device certificate where the hub requires one, a server stuck on
TLS 1.1), the forwarder refuses or is refused, logs an error naming the cause, the hub
stores nothing and every record stays in the outbox.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import threading
import warnings
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from appliance.hub.forwarder import Forwarder
from appliance.hub.testhub import RecordingHub
from appliance.hub.tls import HubTlsError, describe_failure, hub_session, tls_context
from appliance.ids import uuid7
from appliance.store import Store
from pki import Pki
from test_store import T0, make_read, pattern

TOKEN = "t0ken-for-the-hub"


def reads(store: Store, n: int = 3) -> list[str]:
    out = []
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        r = make_read(f"TLS{i:04d}", at, id=uuid7(int(at.timestamp() * 1000)), crop=pattern(16, 48, i),
                      frame=pattern(24, 32, i))
        store.add_read(r)
        out.append(r.id)
    return out


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("other"), "Somebody Else CA")


def push(store: Store, hub: RecordingHub, session: requests.Session, **kw) -> Forwarder:
    f = Forwarder(store, hub.url, "dev-1", session=session, timeout_s=5.0, sleep=lambda s: None, **kw)
    return f


def refused(store: Store, hub: RecordingHub, f: Forwarder, caplog, cause: str) -> None:
    """Nothing stored at the hub, nothing acknowledged, the cause logged as an error."""
    with caplog.at_level(logging.WARNING, logger="appliance.hub.forwarder"):
        result = f.run_once()
    assert result.acked == 0 and result.error is not None and cause in result.error, result.error
    assert hub.records == {} and store.outbox_backlog().count == 3
    assert all(e.attempts == 1 for e in store.outbox_pending(10))
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and cause in errors[-1].getMessage()


def test_pinned_ca_and_token_push_and_acknowledge(store: Store, pki: Pki) -> None:
    """SH-1/DS-1: with the pinned CA and the right token the batch goes and is acknowledged."""
    ids = reads(store)
    cert = pki.server()
    with RecordingHub(tls=(cert.cert, cert.key), token=TOKEN) as hub:
        assert hub.url.startswith("https://127.0.0.1:")
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, token=TOKEN))
        assert f.run_once().acked == 3
    assert set(ids) <= set(hub.records) and store.outbox_backlog().count == 0


def test_a_hub_certificate_from_another_ca_is_refused_and_nothing_is_sent(store: Store, pki: Pki, other_ca: Pki,
                                                                           caplog) -> None:
    """The pin: a certificate any other CA signed (here one we also made) is not the hub's."""
    reads(store)
    cert = other_ca.server("impostor")
    with RecordingHub(tls=(cert.cert, cert.key), token=TOKEN) as hub:
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, token=TOKEN))
        refused(store, hub, f, caplog, "not signed by the pinned CA")
        assert hub.requests == 0  # no request ever reached the impostor


def test_the_system_store_is_not_trusted_when_a_ca_is_pinned(pki: Pki) -> None:
    """Only hub.ca_file is in the context: the system store's hundred-odd CAs are not."""
    ctx = tls_context(pki.ca_file)
    assert len(ctx.get_ca_certs()) == 1 and ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_an_expired_hub_certificate_is_refused(store: Store, pki: Pki, caplog) -> None:
    reads(store)
    cert = pki.server("expired", days=(-30, -1))
    with RecordingHub(tls=(cert.cert, cert.key), token=TOKEN) as hub:
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, token=TOKEN))
        refused(store, hub, f, caplog, "the hub's certificate has expired")


def test_a_wrong_token_is_refused_and_the_records_stay(store: Store, pki: Pki, caplog) -> None:
    reads(store)
    cert = pki.server()
    with RecordingHub(tls=(cert.cert, cert.key), token=TOKEN) as hub:
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, token="not-" + TOKEN))
        refused(store, hub, f, caplog, "the hub refused the bearer token (HTTP 401)")
        assert hub.requests == 1


def test_mutual_tls_with_the_enrolled_device_certificate(store: Store, pki: Pki) -> None:
    ids = reads(store)
    cert, device = pki.server(), pki.device("dev-1")
    with RecordingHub(tls=(cert.cert, cert.key), client_ca=pki.ca_file, require_client_cert=True) as hub:
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, client_cert=device.cert,
                                         client_key=device.key))
        assert f.run_once().acked == 3
    assert set(ids) <= set(hub.records)


@pytest.mark.parametrize("who", ["no certificate", "another CA's device"])
def test_mutual_tls_without_an_enrolled_certificate_is_refused(store: Store, pki: Pki, other_ca: Pki, who: str,
                                                               caplog) -> None:
    reads(store)
    cert = pki.server()
    kw = {}
    if who != "no certificate":
        stranger = other_ca.device("dev-x")
        kw = {"client_cert": stranger.cert, "client_key": stranger.key}
    with RecordingHub(tls=(cert.cert, cert.key), client_ca=pki.ca_file, require_client_cert=True) as hub:
        f = push(store, hub, hub_session(hub.url, ca_file=pki.ca_file, **kw))
        with caplog.at_level(logging.WARNING, logger="appliance.hub.forwarder"):
            result = f.run_once()
        assert result.acked == 0 and result.error is not None
        assert "certificate" in result.error or "closed the connection" in result.error, result.error
        assert hub.records == {} and hub.requests == 0 and store.outbox_backlog().count == 3


def test_a_tls_1_1_only_server_is_refused(pki: Pki, tmp_path: Path) -> None:
    """TLS >= 1.2: a server that stops at 1.1 gets no request (a client without the floor would connect)."""
    cert = pki.server("old")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ssl.SSLError, ValueError) as e:
        pytest.skip(f"this OpenSSL cannot serve TLS 1.1 at all: {e}")
    ctx.load_cert_chain(str(cert.cert), str(cert.key))
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        lax = ssl.create_default_context(cafile=str(pki.ca_file))
        lax.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():  # deprecated on purpose: the lax client proves the server is old
            warnings.simplefilter("ignore", DeprecationWarning)
            lax.minimum_version = ssl.TLSVersion.TLSv1
        try:
            c = http.client.HTTPSConnection("127.0.0.1", server.server_address[1], context=lax, timeout=5)
            c.request("GET", "/lax")
            c.getresponse().read()
        except (ssl.SSLError, OSError) as e:
            pytest.skip(f"this OpenSSL will not speak TLS 1.1 even when asked: {e}")
        assert hits == ["/lax"]  # the server really serves TLS 1.1
        with pytest.raises(requests.exceptions.SSLError) as e:
            hub_session(url, ca_file=pki.ca_file).get(url + "/pinned", timeout=5)
        assert describe_failure(e.value) == "the hub offers no TLS version of 1.2 or later", str(e.value)
        assert hits == ["/lax"]
    finally:
        server.shutdown()
        server.server_close()


def test_plain_http_only_to_loopback_and_nothing_but_the_hub() -> None:
    """SH-1: a hub session reaches its hub only; http:// only to a loopback host."""
    with pytest.raises(ValueError, match=r"https:// \(http:// only to a loopback host\)"):
        hub_session("http://hub.example")
    with RecordingHub() as hub:
        s = hub_session(hub.url)
        assert s.get(hub.url + "/api/v1/nothing", timeout=5).status_code == 404
        with pytest.raises(requests.ConnectionError, match="not the configured hub"):
            s.get("https://elsewhere.example/api/v1/ingest", timeout=5)
        with pytest.raises(requests.ConnectionError, match="not the configured hub"):
            s.get(f"http://127.0.0.1:{hub.port + 1 if hub.port < 65535 else 1}/", timeout=5)


def test_bad_tls_settings_say_what_is_wrong(pki: Pki, tmp_path: Path) -> None:
    device = pki.device("dev-2")
    with pytest.raises(HubTlsError, match="hub.ca_file .* does not exist"):
        tls_context(tmp_path / "nope.pem")
    with pytest.raises(HubTlsError, match="client_cert and hub.client_private_pem go together"):
        tls_context(pki.ca_file, device.cert, None)
    with pytest.raises(HubTlsError, match="do not load as a certificate and its private key"):
        tls_context(pki.ca_file, device.cert, pki.server("k2").key)


def test_the_configured_forwarder_uses_the_pinned_ca_and_the_token_file(store: Store, pki: Pki,
                                                                        tmp_path: Path) -> None:
    """runtime.build_forwarder: hub.ca_file and hub.bearer_file (mode 0600) from the config, nothing else."""
    from appliance.config import build
    from appliance.runtime import build_forwarder
    ids = reads(store)
    token_file = tmp_path / "hub-token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    cert = pki.server()
    with RecordingHub(tls=(cert.cert, cert.key), token=TOKEN) as hub:
        cfg = build({"hub": {"url": hub.url, "ca_file": str(pki.ca_file), "bearer_file": str(token_file)}}, {})
        with pytest.raises(HubTlsError, match="others must not read it; run chmod 600"):
            build_forwarder(cfg, store)
        token_file.chmod(0o600)
        f = build_forwarder(cfg, store)
        assert f is not None and f.run_once().acked == 3
    assert set(ids) <= set(hub.records)


def test_a_hub_that_is_down_is_a_warning_and_a_refused_request_an_error(store: Store, caplog) -> None:
    """A retry can fix a hub that is down (logged as a warning); a 404 from a wrong hub.url it cannot (an error)."""
    import socket

    reads(store)
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = f"http://127.0.0.1:{port}"
    f = Forwarder(store, down, "dev-1", session=hub_session(down), timeout_s=5.0, sleep=lambda s: None)
    with caplog.at_level(logging.WARNING, logger="appliance.hub.forwarder"):
        result = f.run_once()
    assert result.error is not None and "connection refused" in result.error, result.error
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert store.outbox_backlog().count == 3

    caplog.clear()
    with RecordingHub() as hub:
        wrong = hub.url + "/not-the-hub"  # ingest goes to /not-the-hub/api/v1/ingest
        f = Forwarder(store, wrong, "dev-1", session=hub_session(wrong), timeout_s=5.0, sleep=lambda s: None)
        with caplog.at_level(logging.WARNING, logger="appliance.hub.forwarder"):
            result = f.run_once()
    assert result.error == "the hub answered HTTP 404", result.error
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert store.outbox_backlog().count == 3
