"""The hub's side of enrolment, for the recording hub (tests, the demo): a small CA speaking EST.

A real agency hub runs its own CA (or an EST server in front of one); this one exists so that
provisioning and certificate renewal are tested against a real server with a real CA on
loopback. It issues device certificates for one-time enrolment tokens (`simpleenroll`:
`Authorization: Bearer <token>`, a token works once and expires) and renews them for a device
that presents its current, unexpired certificate over mutual TLS (`simplereenroll`: the new
request must name the same device). `cacerts` is public, as RFC 7030 says.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.hub.est import EstFormatError, decode_csr, encode_certs

Answer = tuple[int, str, bytes]  # status, content type, body


@dataclass
class EnrolmentCA:
    """A CA key and certificate in memory, and the one-time tokens it accepts."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    validity: timedelta = timedelta(days=365)
    token_ttl_s: float = 24 * 3600
    _tokens: dict[str, float] = field(default_factory=dict)  # sha256(token) -> expiry (time.time())
    issued: list[x509.Certificate] = field(default_factory=list)

    @classmethod
    def create(cls, name: str = "Agency hub test CA", validity: timedelta = timedelta(days=365)) -> EnrolmentCA:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
                .not_valid_after(now + timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(key, cert, validity)

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def fingerprint(self) -> str:
        """SHA-256 of the CA certificate, colon-separated hex: what the installer's QR code pins."""
        return self.cert.fingerprint(hashes.SHA256()).hex(":")

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self._tokens[_digest(token)] = time.time() + self.token_ttl_s
        return token

    def issue_server_cert(self, host: str, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        """The hub's own TLS certificate (for its loopback HTTPS server)."""
        import ipaddress
        try:
            san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            san = x509.DNSName(host)
        return self._sign(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), key.public_key(),
                          [san], ExtendedKeyUsageOID.SERVER_AUTH)

    def cacerts(self) -> Answer:
        return 200, "application/pkcs7-mime; smime-type=certs-only", encode_certs([self.cert])

    def simpleenroll(self, body: bytes, authorization: str | None) -> Answer:
        token = (authorization or "").removeprefix("Bearer ").strip()
        expiry = self._tokens.pop(_digest(token), None) if token else None  # a token works once
        if expiry is None or expiry < time.time():
            return 401, "text/plain", b"unknown, used or expired enrolment token"
        return self._issue_for(body)

    def simplereenroll(self, body: bytes, client_cert_der: bytes | None) -> Answer:
        if client_cert_der is None:
            return 401, "text/plain", b"re-enrolment needs the current device certificate (mutual TLS)"
        current = x509.load_der_x509_certificate(client_cert_der)
        if current.issuer != self.cert.subject or current.not_valid_after_utc < datetime.now(timezone.utc):
            return 403, "text/plain", b"the presented certificate is not a current one from this CA"
        try:
            csr = decode_csr(body)
        except EstFormatError as e:
            return 400, "text/plain", str(e).encode()
        if csr.subject != current.subject:
            return 403, "text/plain", b"a renewal must name the same device as the current certificate"
        return self._issue_for(body)

    def _issue_for(self, body: bytes) -> Answer:
        try:
            csr = decode_csr(body)
        except EstFormatError as e:
            return 400, "text/plain", str(e).encode()
        if not csr.is_signature_valid:
            return 400, "text/plain", b"the request's signature does not match its key"
        names = [x509.DNSName(n) for n in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
                 for n in [str(n.value)]]
        cert = self._sign(csr.subject, csr.public_key(), names, ExtendedKeyUsageOID.CLIENT_AUTH)
        self.issued.append(cert)
        return 200, "application/pkcs7-mime; smime-type=certs-only", encode_certs([cert])

    def _sign(self, subject: x509.Name, public_key, sans: list, usage) -> x509.Certificate:
        now = datetime.now(timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + self.validity)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.key, hashes.SHA256())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
