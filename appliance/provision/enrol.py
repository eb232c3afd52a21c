"""Enrolment with the agency hub and certificate renewal, over EST (RFC 7030).

At the pole the installer has the hub URL, the SHA-256 fingerprint of the hub's CA and a
one-time enrolment token (a QR code can carry all three). Trust starts from the fingerprint:
the CA certificates are fetched without verification (there is nothing to verify against
yet), and only a CA whose fingerprint matches is kept; from then on every connection pins that
CA (appliance/hub/tls.py). The device's key never leaves it: the hub signs the request made
by provisioning. Renewal (`simplereenroll`) authenticates with the current certificate over
mutual TLS, so a device that renews in time never needs a new token.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from appliance.atomic_file import replace_file
from appliance.errors import AccountError
from appliance.hub.client_certs import normalise_fingerprint
from appliance.hub.est import CACERTS, PKCS10, SIMPLEENROLL, SIMPLEREENROLL, EstFormatError, decode_certs, encode_csr
from appliance.hub.tls import check_hub_url, describe_failure, hub_session
from appliance.provision.certs import make_csr

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0


class EnrolmentError(RuntimeError):
    """Enrolment or renewal failed; the message says why and what to check."""


def fetch_pinned_ca(hub_url: str, ca_sha256: str, out: Path) -> x509.Certificate:
    """The hub's CA certificate whose SHA-256 fingerprint is `ca_sha256`, written to `out` (PEM)."""
    base = check_hub_url(hub_url)
    try:
        want = normalise_fingerprint(ca_sha256)  # the same rules as a client certificate's (colons, spaces, case)
    except AccountError as e:
        raise EnrolmentError(f"the hub's CA fingerprint: {e}") from None
    try:
        with warnings.catch_warnings():  # unverified on purpose: the fingerprint below is the check
            warnings.simplefilter("ignore")
            r = requests.get(base + CACERTS, verify=False, timeout=TIMEOUT_S)
    except requests.RequestException as e:
        raise EnrolmentError(f"cannot reach the hub at {base} for its CA certificates: {describe_failure(e)}") from None
    if r.status_code != 200:
        raise EnrolmentError(f"the hub answered {r.status_code} for {CACERTS}; is {base} the agency hub?")
    try:
        certs = decode_certs(r.content)
    except EstFormatError as e:
        raise EnrolmentError(f"the hub's {CACERTS} answer is unusable: {e}") from None
    for cert in certs:
        if cert.fingerprint(hashes.SHA256()).hex() == want:
            _write_public(out, cert.public_bytes(serialization.Encoding.PEM))
            return cert
    got = ", ".join(c.fingerprint(hashes.SHA256()).hex(":") for c in certs)
    raise EnrolmentError(f"the hub's CA fingerprint is {got}, not the pinned {ca_sha256}: wrong hub, or someone "
                         "in between; nothing was sent")


def enrol(hub_url: str, ca_file: Path, key: ec.EllipticCurvePrivateKey, device_id: str, token: str,
          out: Path) -> x509.Certificate:
    """Send a request for `key` with the one-time `token`; write and return the signed certificate."""
    session = hub_session(hub_url, ca_file=ca_file, token=token)
    cert = _post(session, hub_url, SIMPLEENROLL, encode_csr(make_csr(key, device_id)), "enrolment")
    return _accept(cert, key, ca_file, out)


def renew(hub_url: str, ca_file: Path, key_file: Path, cert_file: Path) -> x509.Certificate:
    """Re-enrol with the current certificate (mutual TLS) for the same key; replace `cert_file` atomically."""
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise EnrolmentError(f"{key_file} is not the device's EC key")
    current = x509.load_pem_x509_certificate(cert_file.read_bytes())
    device_id = current.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    session = hub_session(hub_url, ca_file=ca_file, client_cert=cert_file, client_key=key_file)
    cert = _post(session, hub_url, SIMPLEREENROLL, encode_csr(make_csr(key, str(device_id))), "renewal")
    return _accept(cert, key, ca_file, cert_file)


def test_connection(hub_url: str, ca_file: Path, cert_file: Path, key_file: Path) -> str:
    """A TLS request to the hub's public CA endpoint, the pinned CA trusted and the new certificate offered.

    It proves the route, the hub's certificate and the device's key and certificate files
    (a hub that requires client certificates refuses the handshake otherwise). It does not
    prove the hub accepts this certificate for pushes: /cacerts needs no authentication, and
    the API endpoints may want a token as well, so the message says exactly what was shown;
    the first push (or the hub binding, which fetches the device secret over mutual TLS)
    proves the rest.
    """
    session = hub_session(hub_url, ca_file=ca_file, client_cert=cert_file, client_key=key_file)
    try:
        r = session.get(check_hub_url(hub_url) + CACERTS, timeout=TIMEOUT_S)
    except requests.RequestException as e:
        raise EnrolmentError(f"test connection to {hub_url} failed: {describe_failure(e)}") from None
    if r.status_code != 200:
        raise EnrolmentError(f"test connection to {hub_url}: the hub answered {r.status_code}")
    return (f"TLS to {hub_url} with the hub CA pinned and the device certificate offered: ok "
            "(the first push shows whether the hub accepts it)")


@dataclass(frozen=True)
class Expiry:
    path: Path
    not_after: datetime
    days_left: float

    @property
    def warning(self) -> str | None:
        if self.days_left <= 0:
            return f"{self.path} expired on {self.not_after:%Y-%m-%d}"
        if self.days_left <= 30:
            return f"{self.path} expires in {self.days_left:.0f} days ({self.not_after:%Y-%m-%d})"
        return None


def expiry(cert_file: Path, now: datetime | None = None) -> Expiry:
    """When a PEM certificate expires; the health page and heartbeat warn from 30 days before."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    now = now or datetime.now(timezone.utc)
    return Expiry(cert_file, cert.not_valid_after_utc, (cert.not_valid_after_utc - now).total_seconds() / 86400)


def _post(session: requests.Session, hub_url: str, path: str, body: bytes, what: str) -> x509.Certificate:
    try:
        r = session.post(check_hub_url(hub_url) + path, data=body, timeout=TIMEOUT_S,
                         headers={"Content-Type": PKCS10, "Content-Transfer-Encoding": "base64"})
    except requests.RequestException as e:
        raise EnrolmentError(f"{what} with {hub_url} failed: {describe_failure(e)}") from None
    if r.status_code in (401, 403):
        raise EnrolmentError(f"the hub refused the {what} ({r.status_code}: {r.text.strip()[:200]}); "
                             "ask the hub operator for a new enrolment token")
    if r.status_code != 200:
        raise EnrolmentError(f"the hub answered {r.status_code} to the {what}: {r.text.strip()[:200]}")
    try:
        return decode_certs(r.content)[0]
    except EstFormatError as e:
        raise EnrolmentError(f"the hub's {what} answer is unusable: {e}") from None


def _accept(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, ca_file: Path, out: Path) -> x509.Certificate:
    """Keep a certificate only if it is for our key and signed by the pinned CA."""
    ours = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    theirs = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise EnrolmentError("the hub returned a certificate for a different key; not installed")
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as e:
        raise EnrolmentError(f"the returned certificate is not signed by the pinned hub CA ({e}); not installed") from None
    _write_public(out, cert.public_bytes(serialization.Encoding.PEM))
    log.info("device certificate %s valid until %s", out, cert.not_valid_after_utc)
    return cert


def _write_public(path: Path, data: bytes) -> None:
    """A certificate, replaced whole (a power cut never leaves half of one), keeping its owner."""
    replace_file(path, data, mode=0o644, same_owner=True)
