"""A throw-away PKI for the hub TLS tests: a CA, server and device certificates, all made in the test.

Provisioning makes the real device key and request (appliance/provision/certs.py); the
hub's CA signs them. Here one `Pki` plays the hub's CA, so tests can make the hub's
certificate, an enrolled device certificate, an expired one, and a second CA that nobody
trusts. EC P-256 keys: fast to make on a busy machine.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.provision.certs import load_or_make_key, make_csr


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


class Pki:
    """A CA in `folder`; `server()` and `device()` issue certificates signed by it."""

    def __init__(self, folder: Path, name: str = "Test Hub CA") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.name = folder, name
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = folder / f"{name.replace(' ', '-').lower()}.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def _issue(self, stem: str, subject: x509.Name, public_key, sans: list, usage, *,
               days: tuple[float, float] = (-1, 30)) -> Path:
        now = datetime.now(timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now + timedelta(days=days[0])).not_valid_after(now + timedelta(days=days[1]))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        path = self.folder / f"{stem}.crt"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def server(self, stem: str = "hub", *, days: tuple[float, float] = (-1, 30)) -> Issued:
        """The hub's certificate for 127.0.0.1 and localhost; `days` (from, to) relative to now."""
        key = ec.generate_private_key(ec.SECP256R1())
        key_path = self.folder / f"{stem}.key"
        _write_key(key, key_path)
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return Issued(self._issue(stem, _name("localhost"), key.public_key(), sans, ExtendedKeyUsageOID.SERVER_AUTH,
                                  days=days), key_path)

    def device(self, device_id: str = "dev-1", *, days: tuple[float, float] = (-1, 30)) -> Issued:
        """Enrol a device the way the hub will: sign the request provisioning makes from the device's own key."""
        key_path = self.folder / f"{device_id}.key"
        key, _ = load_or_make_key(key_path)
        csr = make_csr(key, device_id)
        sans = [x509.DNSName(device_id)]
        return Issued(self._issue(device_id, csr.subject, csr.public_key(), sans, ExtendedKeyUsageOID.CLIENT_AUTH,
                                  days=days), key_path)
