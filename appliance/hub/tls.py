"""The one way to talk to the agency hub: a `requests.Session` pinned to the hub's CA, TLS >= 1.2.

Everything that calls the hub (the forwarder, hotlist sync, the heartbeat, the device
secret) takes its session from `hub_session`, so the rules live in one place:

- The hub's CA is pinned (`hub.ca_file`): only that CA is trusted, never the system store,
  so a certificate any public CA signed for the hub's name is still refused. The pin is
  in the adapter's own SSL context, which a per-request `verify=` cannot loosen.
- TLS 1.2 is the least version offered or accepted (`minimum_version`).
- Mutual TLS when `hub.client_cert` and `hub.client_private_pem` are given (the device certificate
  provisioning enrols); a bearer token when one is given; both may be used together.
- SH-1: the session reaches the configured hub only. Any other URL is refused by an
  adapter that sends nothing; plain http:// is refused except to a loopback host (tests,
  the demo's local hub).

`describe_failure` turns what requests raises into a cause an operator can act on (the
hub's certificate expired, is not from the pinned CA, ...) without a traceback.
"""

from __future__ import annotations

import logging
import os
import ssl
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from appliance.net import is_loopback

log = logging.getLogger(__name__)

TOKEN_CREDENTIAL = "hub-token"  # systemd: LoadCredentialEncrypted=hub-token:...


class HubTlsError(ValueError):
    """The hub's TLS settings are unusable (a missing CA file, a certificate without its key)."""


def check_hub_url(hub_url: str) -> str:
    """The hub URL without a trailing slash, after checking it: https, or http to a loopback host only."""
    parts = urlsplit(hub_url)
    if parts.username or parts.password:
        raise ValueError("the hub URL must not carry a user name or password; give the token separately")
    host = parts.hostname or ""
    if not host or not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))):
        raise ValueError(f"the hub URL must be https:// (http:// only to a loopback host); got {hub_url!r}")
    return hub_url.rstrip("/")


def tls_context(ca_file: Path | str | None, client_cert: Path | str | None = None,
                client_key: Path | str | None = None) -> ssl.SSLContext:
    """A client context: hostname checked, TLS >= 1.2, only `ca_file` trusted (the system store without one)."""
    for what, p in (("hub.ca_file", ca_file), ("hub.client_cert", client_cert), ("hub.client_private_pem", client_key)):
        if p is not None and not Path(p).is_file():
            raise HubTlsError(f"{what} {p} does not exist or is not a file; give the PEM file the hub's "
                              "operator issued")
    if (client_cert is None) != (client_key is None):
        raise HubTlsError("hub.client_cert and hub.client_private_pem go together: give both (mutual TLS) or neither")
    # With a cafile, create_default_context loads that file only: the system store stays out (the pin).
    ctx = ssl.create_default_context(cafile=str(ca_file)) if ca_file else ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        try:
            ctx.load_cert_chain(str(client_cert), str(client_key))
        except (ssl.SSLError, ValueError) as e:
            raise HubTlsError(f"hub.client_cert {client_cert} and hub.client_private_pem {client_key} do not load as a "
                              f"certificate and its private key ({e}); give the PEM pair provisioning made") from None
    return ctx


class PinnedAdapter(HTTPAdapter):
    """HTTPS through one SSL context: requests' own CA, verify and cert settings are ignored."""

    def __init__(self, context: ssl.SSLContext, **kw: Any) -> None:
        self.context = context
        super().__init__(**kw)

    def init_poolmanager(self, *args: Any, **kw: Any) -> None:
        kw["ssl_context"] = self.context
        super().init_poolmanager(*args, **kw)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None):
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        for k in ("ca_certs", "ca_cert_dir", "cert_file", "key_file"):  # all of it is in self.context
            pool.pop(k, None)
        pool["ssl_context"] = self.context
        pool["cert_reqs"] = "CERT_REQUIRED"  # verify=False cannot turn the pin off
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Nothing to do: the context already holds the pinned CA and the client certificate."""


class ElsewhereAdapter(HTTPAdapter):
    """Refuses every request (SH-1: a hub session sends data to the configured hub only)."""

    def send(self, request: Any, *args: Any, **kw: Any):
        raise requests.ConnectionError(f"refused: {urlsplit(request.url).netloc} is not the configured hub; "
                                       "the appliance sends data only to its hub (POLICY SH-1)")


def hub_session(hub_url: str, *, ca_file: Path | str | None = None, client_cert: Path | str | None = None,
                client_key: Path | str | None = None, token: str | None = None) -> requests.Session:
    """A session that reaches `hub_url` only, under the rules above; the bearer token rides in its headers."""
    base = check_hub_url(hub_url)
    s = requests.Session()
    s.trust_env = False  # no proxy or CA bundle from the environment: the hub is reached directly
    s.mount("https://", ElsewhereAdapter())
    s.mount("http://", ElsewhereAdapter())
    if base.startswith("https://"):
        s.mount(base + "/", PinnedAdapter(tls_context(ca_file, client_cert, client_key)))
    else:  # loopback http (tests, demo): no TLS to pin
        s.mount(base + "/", HTTPAdapter())
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def session_from_config(hub: Any, *, with_token: bool = True, env: Mapping[str, str] | None = None) -> requests.Session:
    """`hub_session` for the `[hub]` config section (url, ca_file, client_cert, client_private_pem, bearer_file).

    Hotlist sync, the heartbeat and the forwarder all take their session from here.
    """
    token = load_token(getattr(hub, "bearer_file", None), env) if with_token else None
    return hub_session(hub.url, ca_file=getattr(hub, "ca_file", None), client_cert=getattr(hub, "client_cert", None),
                       client_key=getattr(hub, "client_private_pem", None), token=token)


def load_token(token_file: Path | str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The hub's bearer token: `hub.bearer_file`, else the systemd credential `hub-token`, else None.

    Secrets never sit in the config file (STYLE rule 8): only the path does, and the file
    must be private (no group or other access).
    """
    env = os.environ if env is None else env
    if token_file is None and env.get("CREDENTIALS_DIRECTORY"):
        cred = Path(env["CREDENTIALS_DIRECTORY"]) / TOKEN_CREDENTIAL
        token_file = cred if cred.is_file() else None
    if token_file is None:
        return None
    path = Path(token_file)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise HubTlsError(f"hub.bearer_file {path} cannot be read ({e.strerror}); give the file holding the "
                          "hub's bearer token") from None
    if mode & 0o077:
        raise HubTlsError(f"hub.bearer_file {path} has mode {mode:04o}: others must not read it; run chmod 600 {path}")
    if not text or any(c.isspace() for c in text):
        raise HubTlsError(f"hub.bearer_file {path} must hold the token alone, on one line")
    return text


_CAUSES = (  # (what OpenSSL or the server says, what it means for the operator); first match wins
    ("certificate has expired", "the hub's certificate has expired (or this device's clock is wrong)"),
    ("certificate is not yet valid", "the hub's certificate is not valid yet (or this device's clock is wrong)"),
    ("hostname mismatch", "the hub's certificate does not name the host in hub.url"),
    ("ip address mismatch", "the hub's certificate does not name the address in hub.url"),
    ("self-signed certificate", "the hub's certificate is not signed by the pinned CA (hub.ca_file)"),
    ("self signed certificate", "the hub's certificate is not signed by the pinned CA (hub.ca_file)"),
    ("unable to get local issuer", "the hub's certificate is not signed by the pinned CA (hub.ca_file)"),
    ("certificate verify failed", "the hub's certificate did not verify against the pinned CA (hub.ca_file)"),
    ("certificate required", "the hub requires a client certificate (set hub.client_cert and hub.client_private_pem)"),
    ("unknown ca", "the hub does not trust this device's certificate (not enrolled with its CA)"),
    ("bad certificate", "the hub refused this device's certificate"),
    ("certificate unknown", "the hub refused this device's certificate"),
    ("unsupported protocol", "the hub offers no TLS version of 1.2 or later"),
    ("protocol version", "the hub offers no TLS version of 1.2 or later"),
    ("no protocols available", "the hub offers no TLS version of 1.2 or later"),
    ("eof occurred in violation of protocol", "the hub closed the connection during the TLS handshake (it may "
     "require a client certificate this device did not present, or not trust the one it did)"),
)


def describe_failure(exc: BaseException) -> Cause:
    """Why a request to the hub failed, in words that say what to fix (never a URL with a secret, never plate text)."""
    text = str(exc).lower()
    for needle, cause in _CAUSES:
        if needle in text:
            return Cause(cause, True)  # certificates and TLS versions: a retry will not fix them
    if isinstance(exc, requests.exceptions.SSLError):
        return Cause(f"the TLS handshake with the hub failed ({_short(exc)})", True)
    if isinstance(exc, requests.Timeout):
        return Cause("the hub did not answer in time", False)
    if "not the configured hub" in text:
        return Cause(str(exc), True)
    if isinstance(exc, requests.ConnectionError):
        if "connection refused" in text:
            return Cause("could not reach the hub: connection refused (is it up?)", False)
        if "reset" in text or "aborted" in text or "remotedisconnected" in text:
            return Cause("the hub closed the connection without an answer (with mutual TLS: it may have refused "
                          "this device's certificate)", False)
        return Cause(f"could not reach the hub: {type(exc).__name__}", False)
    return Cause(f"{type(exc).__name__}: {_short(exc)}", False)


class Cause(str):
    """Why a hub call failed, in words, and whether waiting and retrying can fix it.

    `configuration` is True for causes only a person can fix (a certificate, a token, a
    TLS version, a refused request): the forwarder logs those as errors, the rest as
    warnings. A str, so every message stays plain text where it is shown or stored.
    """

    configuration: bool

    def __new__(cls, text: str, configuration: bool) -> Cause:
        cause = super().__new__(cls, text)
        cause.configuration = configuration
        return cause


def describe_status(status: int) -> Cause:
    """The cause behind a hub answer that is not a success."""
    if status == 401:
        return Cause("the hub refused the bearer token (HTTP 401): check the hub token", True)
    if status == 403:
        return Cause("the hub refused this device (HTTP 403): the token or device certificate is not allowed", True)
    # Other refusals (400, 404: a wrong hub.url or protocol) need a person; 408, 429 and 5xx pass.
    return Cause(f"the hub answered HTTP {status}", 400 <= status < 500 and status not in (408, 429))


def _short(exc: BaseException) -> str:
    """The innermost cause (requests wraps urllib3 wraps ssl), without the pool's URL chatter."""
    seen: BaseException = exc
    for _ in range(5):
        inner = getattr(seen, "reason", None) or (seen.args[0] if seen.args else None)
        if not isinstance(inner, BaseException):
            break
        seen = inner
    return str(seen)[:200]
