"""Hub clients authenticate to the pull API by client certificate (issue #6): a real `alpr serve` on loopback.

POLICY DS-1 (mutual TLS for the hub link), AC-2 (hub clients are machine tokens or
certificates limited to the pull API: a certificate signs nobody in to the web UI), LG-1
(every pull is an access record naming the client, here with auth = certificate). A
certificate opens the API only when it chains to web.client_ca AND its SHA-256 is
registered (appliance/hub/client_certs.py). Real cheroot server with TLS, a throw-away
CA (tests/pki.py), a real SQLCipher store.
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from appliance import users
from appliance.audit.records import records_after
from appliance.config import Config, build
from appliance.errors import ConfigError
from appliance.hub import client_certs, tokens
from appliance.serve import build_server, serve
from appliance.store import Store
from pki import Pki
from test_access_control import app, clock, folder  # noqa: F401  (the permission matrix's fixtures)
from test_store import make_read

CLIENT = "county-hub"


def config(tmp_path: Path, client_ca: Path | None) -> Config:
    base = Config()
    return replace(base, store=replace(base.store, path=tmp_path / "data" / "store"),
                   web=replace(base.web, host="127.0.0.1", port=0, tls=True, client_ca=client_ca))


@contextmanager
def running(cfg: Config, server_cert):
    """`alpr serve` in a thread until the block ends; yields (host, port)."""
    stop, ready = threading.Event(), []
    t = threading.Thread(target=serve, args=(cfg,), kwargs={
        "cert": server_cert.cert, "key": server_cert.key, "stop": stop, "ready": ready.append,
        "app_config": {"password_hasher": users.cheap_hasher()}})
    t.start()
    try:
        for _ in range(200):
            if ready or not t.is_alive():
                break
            stop.wait(0.05)
        assert ready, "alpr serve did not start"
        host, port = ready[0].removeprefix("https://").rsplit(":", 1)
        yield host, int(port)
    finally:
        stop.set()
        t.join(10)


def get(where, path: str, ca: Path, client=None, headers: dict | None = None):
    """(status, headers, body) of GET `path`, presenting `client` (an Issued) when given; no redirects followed."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    conn = http.client.HTTPSConnection(*where, context=ctx, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "pki", "Agency Hub Client CA")


@pytest.fixture
def server(tmp_path: Path, pki: Pki):
    """A serving appliance with one read, web.client_ca = the agency CA, and `county-hub`'s certificate registered."""
    cfg = config(tmp_path, pki.ca_file)
    registered, unregistered = pki.device(CLIENT), pki.device("other-machine")
    with Store.open(cfg.store.path) as s:
        s.add_read(make_read("7ABC123"))
        fp, subject, not_after = client_certs.read_cert_file(registered.cert)
        client_certs.add(s, CLIENT, fp, subject=subject, not_after=not_after)
    with running(cfg, pki.server("appliance")) as where:
        yield where, cfg, registered, unregistered


def _chain(cfg: Config):
    with Store.open(cfg.store.path) as s:
        return records_after(s, 0, 1000), tokens.pulls(s)


def test_a_registered_certificate_pulls_and_the_access_record_names_the_client(server, pki: Pki) -> None:
    """DS-1/LG-1: a registered certificate that chains to web.client_ca pulls (200); the record says who and how."""
    where, cfg, registered, _ = server
    status, _, body = get(where, "/api/v1/reads", pki.ca_file, registered)
    assert status == 200, body
    items = json.loads(body)["items"]
    assert [i["text"] for i in items] == ["7ABC123"]
    records, pulls = _chain(cfg)
    own = [r for r in records if r.action == "hub pull"]
    assert len(own) == 1 and own[0].username == f"hub:{CLIENT}" and own[0].client == "127.0.0.1"
    assert own[0].query == {"path": "/api/v1/reads", "query": "", "auth": "certificate"}
    assert own[0].result_ids == [i["id"] for i in items]
    assert pulls[0]["client"] == CLIENT and pulls[0]["path"] == "/api/v1/reads"
    status, _, body = get(where, "/api/v1/access", pki.ca_file, registered)  # the pull is in the next /access
    assert status == 200 and any(i.get("username") == f"hub:{CLIENT}" for i in json.loads(body)["items"])


def test_an_unregistered_certificate_of_the_same_ca_is_forbidden(server, pki: Pki) -> None:
    """Pinning both: chaining to web.client_ca is not enough; an unregistered certificate gets 403 and its SHA-256."""
    where, cfg, _, unregistered = server
    status, _, body = get(where, "/api/v1/reads", pki.ca_file, unregistered)
    fp, _, _ = client_certs.read_cert_file(unregistered.cert)
    assert status == 403
    assert "not registered" in json.loads(body)["error"] and fp in json.loads(body)["error"]
    records, pulls = _chain(cfg)
    assert not [r for r in records if r.action == "hub pull"] and pulls == []


def test_a_certificate_from_another_ca_is_refused(server, tmp_path: Path, pki: Pki) -> None:
    """A certificate that does not chain to web.client_ca never reaches the API: the handshake fails (or 401)."""
    where, cfg, _, _ = server
    stranger = Pki(tmp_path / "stranger", "Stranger CA")
    impostor = stranger.device(CLIENT)
    with Store.open(cfg.store.path) as s:  # even registered by fingerprint, the CA pin refuses it
        fp, _, _ = client_certs.read_cert_file(impostor.cert)
        client_certs.add(s, "impostor", fp)
    try:
        status, _, _ = get(where, "/api/v1/reads", pki.ca_file, impostor)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException):
        status = None  # refused in the handshake (TLS 1.3 reports it on the first read)
    assert status in (None, 401)
    records, _ = _chain(cfg)
    assert not [r for r in records if r.action == "hub pull"]


def test_no_certificate_and_no_token_is_401_and_a_token_still_works(server, pki: Pki) -> None:
    """CERT_OPTIONAL: clients without a certificate still connect; the API then wants a token as before."""
    where, cfg, _, _ = server
    status, headers, body = get(where, "/api/v1/reads", pki.ca_file)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert "alpr hub cert add" in json.loads(body)["error"]
    with Store.open(cfg.store.path) as s:
        token = tokens.create(s, "token-hub")
    status, _, _ = get(where, "/api/v1/reads", pki.ca_file, headers={"Authorization": f"Bearer {token}"})
    assert status == 200
    records, _ = _chain(cfg)
    assert [r.query["auth"] for r in records if r.action == "hub pull"] == ["token"]
    status, _, body = get(where, "/login", pki.ca_file)  # a technician's browser without a certificate
    assert status == 200 and b"Restricted system" in body


def test_a_registered_certificate_signs_nobody_in_to_the_web_ui(server, pki: Pki) -> None:
    """AC-2: hub clients are limited to the pull API; a web page with a registered certificate goes to /login."""
    where, _, registered, _ = server
    for page in ("/", "/search", "/audit"):
        status, headers, _ = get(where, page, pki.ca_file, registered)
        assert status == 302 and "/login" in headers["Location"], page


def test_a_revoked_certificate_opens_nothing_and_cannot_come_back(server, pki: Pki) -> None:
    """Revocation removes the registration: 403 from then on; the same certificate cannot be registered again."""
    where, cfg, registered, _ = server
    assert get(where, "/api/v1/alerts", pki.ca_file, registered)[0] == 200
    with Store.open(cfg.store.path) as s:
        assert client_certs.revoke(s, CLIENT) == 1
    assert get(where, "/api/v1/alerts", pki.ca_file, registered)[0] == 403
    with Store.open(cfg.store.path) as s:
        fp, _, _ = client_certs.read_cert_file(registered.cert)
        with pytest.raises(ValueError, match="was revoked .* issue a new one"):
            client_certs.add(s, CLIENT, fp)
        assert [c.revoked_at is not None for c in client_certs.list_certs(s)] == [True]


def test_hub_cert_commands(tmp_path: Path, pki: Pki, capsys) -> None:
    """`alpr hub cert add NAME --cert FILE | --fingerprint`, `revoke`, `list`; bad input says what is allowed."""
    from appliance.hub.command import add_parser
    parser = argparse.ArgumentParser(prog="alpr")
    add_parser(parser.add_subparsers(dest="command"))
    data = str(tmp_path / "store")

    def alpr(*args: str) -> int:
        a = parser.parse_args(list(args))
        return a.func(a)

    one, two = pki.device(CLIENT), pki.device("county-hub-next")
    assert alpr("hub", "cert", "add", CLIENT, "--cert", str(one.cert), "--store", data) == 0
    fp_two, _, _ = client_certs.read_cert_file(two.cert)
    colons = ":".join(fp_two[i:i + 2] for i in range(0, 64, 2)).upper()  # as openssl prints it
    assert alpr("hub", "cert", "add", CLIENT, "--fingerprint", colons, "--store", data) == 0
    with pytest.raises(ValueError, match="already registered as hub client 'county-hub'"):
        alpr("hub", "cert", "add", "someone-else", "--cert", str(one.cert), "--store", data)
    with pytest.raises(ValueError, match="64 hex digits"):
        alpr("hub", "cert", "add", CLIENT, "--fingerprint", "abc", "--store", data)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="not a PEM or DER X.509 certificate"):
        alpr("hub", "cert", "add", CLIENT, "--cert", str(junk), "--store", data)
    with pytest.raises(ValueError, match="cannot read the certificate file"):
        alpr("hub", "cert", "add", CLIENT, "--cert", str(tmp_path / "missing.pem"), "--store", data)
    assert alpr("hub", "cert", "revoke", CLIENT, "--fingerprint", fp_two, "--store", data) == 0
    assert alpr("hub", "cert", "list", "--store", data) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(f"{CLIENT}\t")]
    assert len(lines) == 2 and lines[0].endswith("\tactive") and "\trevoked " in lines[1] and fp_two in lines[1]
    assert "CN=county-hub" in lines[0] and "\texpires " in lines[0]
    with Store.open(Path(data)) as s:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding
        der = x509.load_pem_x509_certificate(one.cert.read_bytes()).public_bytes(Encoding.DER)
        assert client_certs.client_for(s, der) == CLIENT
    with pytest.raises(ValueError, match="has no registered, unrevoked certificate"):
        alpr("hub", "cert", "revoke", "nobody", "--store", data)


def test_client_ca_needs_tls_and_a_readable_ca(tmp_path: Path, pki: Pki) -> None:
    """web.client_ca is part of the handshake: refused with web.tls = false, and a file that is no CA says so."""
    with pytest.raises(ConfigError, match="web.client_ca needs web.tls = true"):
        build({"web": {"host": "127.0.0.1", "tls": False, "client_ca": str(pki.ca_file)}}, {})
    plain = replace(config(tmp_path, pki.ca_file), web=replace(config(tmp_path, pki.ca_file).web, tls=False))
    with pytest.raises(ConfigError, match="web.client_ca needs web.tls = true"):
        build_server(plain, lambda env, start: [], None, None)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    issued = pki.server("appliance")
    with pytest.raises(ConfigError, match="must be a readable PEM file of CA certificates"):
        build_server(config(tmp_path, junk), lambda env, start: [], issued.cert, issued.key)


def test_the_protocol_docs_describe_certificate_authentication() -> None:
    """Docs are tested: the protocol and the OpenAPI file name the certificate's registration and its 403."""
    import yaml
    docs = Path(__file__).resolve().parents[1] / "docs"
    text = (docs / "hub-protocol.md").read_text()
    assert "web.client_ca" in text and "alpr hub cert add NAME --cert FILE" in text and "`certificate`" in text
    spec = yaml.safe_load((docs / "hub-openapi.yaml").read_text())
    for path in ("/api/v1/reads", "/api/v1/alerts", "/api/v1/access", "/api/v1/reads/{read_id}/image"):
        assert "403" in spec["paths"][path]["get"]["responses"], path
    assert "web.client_ca" in spec["components"]["securitySchemes"]["mutualTLS"]["description"]


def test_permission_matrix_for_a_registered_client_certificate(app, pki: Pki) -> None:
    """AC-2 for every route: a registered certificate (as the TLS layer hands it over) opens the pull API
    and nothing else: public pages as for anyone, every other page sends it to sign in."""
    from test_access_control import routes, store_of
    from webui import access
    issued = pki.device(CLIENT)
    fp, _, _ = client_certs.read_cert_file(issued.cert)
    client_certs.add(store_of(app), CLIENT, fp)
    tls = {"SSL_CLIENT_VERIFY": "SUCCESS", "SSL_CLIENT_CERT": issued.cert.read_text().strip()}
    client = app.test_client()
    hub_routes = 0
    for endpoint, method, url in routes(app):
        r = client.open(url, method=method, base_url="https://localhost", environ_base=tls)
        if endpoint in access.PUBLIC:
            assert r.status_code == 200, url
        elif endpoint in access.HUB_API:
            assert r.status_code == 200, (url, r.data)
            hub_routes += 1
        else:
            assert r.status_code == 302 and r.headers["Location"].startswith("/login"), url
    assert hub_routes == len(access.HUB_API)
    r = client.get("/api/v1/reads", base_url="https://localhost", environ_base={**tls, "SSL_CLIENT_VERIFY": "NONE"})
    assert r.status_code == 401  # a certificate the handshake did not verify counts for nothing
