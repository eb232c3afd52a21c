"""`alpr serve`: the web UI under cheroot, over TLS (POLICY DS-1).

The certificate comes from provisioning (`--cert` and `--key`), or a self-signed one is
made on first start in the `tls/` folder beside the store (key file 0600) and reused
afterwards; its SHA-256 fingerprint is logged so a technician can check it in the browser.
TLS 1.2 is the floor and 1.3 is preferred by OpenSSL's default. Plain HTTP is served
only on a loopback address (web.tls = false; the config refuses it elsewhere, and so
does this module). Over TLS the session cookie is Secure and responses carry HSTS.
With web.client_ca set, the handshake also asks for (but does not require) a client
certificate and verifies it against that CA only: hub clients may use one on the pull API
instead of a token (appliance/hub/client_certs.py); the web UI never takes it as a sign-in.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import socket
import ssl
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from appliance.config import Config
from appliance.errors import ConfigError
from appliance.net import is_loopback

log = logging.getLogger(__name__)

CERT_NAME = "web.crt"
KEY_NAME = "web.key"
CERT_DAYS = 5 * 365


def tls_folder(store_path: Path | str) -> Path:
    """Where the web UI keeps its certificate: `tls/` beside the store folder (renewal and provisioning too)."""
    return Path(store_path).parent / "tls"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `serve` to the `alpr` command group."""
    s = sub.add_parser("serve", help="serve the web UI over HTTPS (self-signed certificate unless --cert/--key)")
    s.add_argument("--config", help="TOML config file (default /etc/alpr/alpr.toml)")
    s.add_argument("--cert", help="PEM certificate chain from provisioning (with --key)")
    s.add_argument("--key", help="PEM private key of --cert")
    s.set_defaults(func=_command)


def _command(a: argparse.Namespace) -> int:
    from appliance.config import load_config
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    cfg = load_config(Path(a.config) if a.config else None, os.environ)
    return serve(cfg, cert=Path(a.cert) if a.cert else None, key=Path(a.key) if a.key else None)


def serve(cfg: Config, *, cert: Path | None = None, key: Path | None = None, app_config: dict | None = None,
          stop: threading.Event | None = None, ready=None) -> int:
    """Serve until SIGTERM (or `stop` is set); `ready(url)` is called once the socket listens."""
    from appliance.runtime import wait_for_signal
    from webui import create_app
    tls = cfg.web.tls
    if not tls and not is_loopback(cfg.web.host):
        raise ConfigError(f"web.tls = false is allowed only on a loopback host; web.host is {cfg.web.host!r}")
    if tls and (cert is None) != (key is None):
        raise ConfigError("give both --cert and --key, or neither (a self-signed certificate is then made)")
    options = dict(app_config or {})
    options.setdefault("appliance_config", cfg)  # the settings page shows the file's values beside the stored ones
    options.setdefault("policy_file", cfg.web.policy_file)  # /policy (POLICY TP-1)
    if "working_hours" not in options:  # the audit report's off-hours flag (POLICY AR-1)
        from appliance.audit.report import WorkingHours
        options["working_hours"] = WorkingHours.parse(cfg.web.working_hours, cfg.web.time_zone)
    if "pull_limiter" not in options:  # the hub pull API's per-client rate ([hub] pull_rate_per_minute)
        from webui.rate_limit import RateLimiter
        options["pull_limiter"] = RateLimiter(cfg.hub.pull_rate_per_minute, cfg.hub.pull_burst)
    if "store_keys" not in options and cfg.store.unlock == "hub":  # the hub's secret unlocks it (DS-5)
        from appliance.hub.device_secret import store_keys
        options["store_keys"] = store_keys(cfg)
    if tls:
        options.setdefault("SESSION_COOKIE_SECURE", True)
        options.setdefault("PREFERRED_URL_SCHEME", "https")
    app = create_app(Path(cfg.store.path), options)
    server = build_server(cfg, app, cert, key)
    server.prepare()  # binds now, so a port in use fails here and port 0 has its number
    host, port = server.bind_addr[:2]
    url = f"{'https' if tls else 'http'}://{_url_host(host)}:{port}"
    thread = threading.Thread(target=server.serve, name="webui", daemon=True)
    thread.start()
    log.info("web UI at %s", url)
    if ready is not None:
        ready(url)
    stop = stop or threading.Event()
    try:
        if threading.current_thread() is threading.main_thread():
            wait_for_signal(stop)
        else:
            stop.wait()
    finally:
        server.stop()
        thread.join(5)
        app.extensions["alpr"].store.close()
    return 0


def build_server(cfg: Config, app, cert: Path | None, key: Path | None) -> wsgi.Server:
    """A cheroot server for `app` on web.host:web.port, with TLS unless web.tls is false."""
    server = wsgi.Server((cfg.web.host, cfg.web.port), app, numthreads=8, server_name="alpr")
    if cfg.web.tls:
        if cert is None:
            cert, key = ensure_self_signed(tls_folder(cfg.store.path), cfg.web.host)
        adapter = BuiltinSSLAdapter(str(cert), str(key))
        if cfg.web.client_ca is not None:
            adapter.context = client_ca_context(cert, key, cfg.web.client_ca)
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2  # DS-1
        server.ssl_adapter = adapter
    elif cfg.web.client_ca is not None:
        raise ConfigError("web.client_ca needs web.tls = true: client certificates are part of the TLS handshake")
    return server


def client_ca_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """A server context that asks for a client certificate and trusts web.client_ca alone to verify it.

    CERT_OPTIONAL: a technician's browser without a certificate still connects; one that sends a
    certificate that does not verify is refused in the handshake. A fresh context rather than the
    adapter's own, because that one (create_default_context) trusts the system's CAs for clients.
    cheroot then puts SSL_CLIENT_VERIFY=SUCCESS and the PEM in SSL_CLIENT_CERT into the request's
    environ (webui/hub_api.py reads them; appliance/hub/client_certs.py pins the fingerprint)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    try:
        context.load_verify_locations(cafile=str(client_ca))
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"web.client_ca {client_ca} must be a readable PEM file of CA certificates: {e}") from None
    if not context.get_ca_certs():
        raise ConfigError(f"web.client_ca {client_ca} holds no CA certificate (a CA has basicConstraints CA:TRUE)")
    context.verify_mode = ssl.CERT_OPTIONAL
    log.info("hub clients may authenticate by client certificates issued by %s", client_ca)
    return context


def ensure_self_signed(folder: Path, host: str) -> tuple[Path, Path]:
    """The certificate and key in `folder`, made (EC P-256, self-signed) when absent."""
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname()),
                                     x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    if _is_ip(host) and not ipaddress.ip_address(host).is_unspecified and host != "127.0.0.1":
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ALPR appliance {socket.gethostname()}")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(private.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(private, hashes.SHA256()))
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.chmod(key_path, 0o600)  # in case an old file with wider rights was there
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.warning("made a self-signed web certificate %s (SHA-256 %s); install a provisioned one for production",
                cert_path, cert.fingerprint(hashes.SHA256()).hex(":"))
    return cert_path, key_path


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
