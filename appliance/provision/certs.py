"""The device's own key pair and certificate request, and SHA-256 fingerprints for the report.

The key is made on the device (EC P-256) and never leaves it: the hub signs the request
(enrolment, issue 6). An existing key is reused, not replaced, so provisioning again does
not orphan a certificate the hub already issued for it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)


def load_or_make_key(path: Path) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """(the private key in `path`, whether it was made now); a new key is written mode 0600."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} is not an EC private key; move it aside to make a new device key")
        return key, False
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a key
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    log.info("made a new device key %s", path)
    return key, True


def make_csr(key: ec.EllipticCurvePrivateKey, device_id: str) -> x509.CertificateSigningRequest:
    """A certificate request with the device id as its common name (and DNS name)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)])
    return (x509.CertificateSigningRequestBuilder().subject_name(name)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(device_id)]), critical=False)
            .sign(key, hashes.SHA256()))


def write_csr(csr: x509.CertificateSigningRequest, path: Path) -> None:
    """Write the request as PEM, mode 0644 (it holds no secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


def public_key_fingerprint(key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, colon-separated hex (what the hub will see)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex(":")


def certificate_fingerprint(path: Path) -> str:
    """SHA-256 of a PEM certificate, colon-separated hex (what a browser shows)."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":")
