"""The device's signing key: it signs evidence manifests (RT-4) and access-record purge anchors (LG-5).

The key lives in the key folder, beside the store's master key and apart from the data
(POLICY DS-3): `$CREDENTIALS_DIRECTORY` under systemd, else /var/lib/alpr-keys. The
provisioning's device key (`device.key`, EC P-256, the key the hub certifies) is used when
it is there, so a signature names the same device the hub knows; a device not provisioned
yet makes its own `signing.key` (EC P-256) on first use and keeps it. Signatures are ECDSA
with SHA-256 (DER), carried as base64 text.

A signature made with a key that travels beside it proves only that nothing changed since
signing; that the device made it needs the public key from somewhere trusted (the device's
key folder, the provisioning report's fingerprint, the hub).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from appliance.provision.certs import load_or_make_key, public_key_fingerprint
from appliance.store.keys import default_key_path

log = logging.getLogger(__name__)

DEVICE_KEY = "device.key"  # provisioning's (appliance/provision/checks.py)
SIGNING_KEY = "signing.key"  # made here when the device key is not there


def key_folder(env: Mapping[str, str] | None = None) -> Path:
    """The folder holding the store's master key, where the signing key lives too."""
    return default_key_path(env).parent


@dataclass(frozen=True)
class Signer:
    """The device's private key, ready to sign."""

    key: ec.EllipticCurvePrivateKey
    path: Path

    @property
    def public_pem(self) -> str:
        return public_pem(self.key.public_key())

    @property
    def fingerprint(self) -> str:
        return public_key_fingerprint(self.key.public_key())

    def sign(self, data: bytes) -> str:
        """Base64 of the DER ECDSA-SHA256 signature of `data`."""
        return base64.b64encode(self.key.sign(data, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def load_signer(folder: Path | None = None) -> Signer:
    """The device key if provisioned, else this device's signing key (made now, mode 0600, if absent)."""
    folder = key_folder() if folder is None else Path(folder)
    path = folder / DEVICE_KEY if (folder / DEVICE_KEY).exists() else folder / SIGNING_KEY
    try:
        key, made = load_or_make_key(path)
    except OSError as e:
        raise OSError(f"cannot make the device signing key {path} ({e.strerror}): provision the device "
                      f"(alpr provision) or give a writable key folder") from e
    if made:
        log.warning("no device key in %s: made a signing key %s (fingerprint %s)", folder, path,
                    public_key_fingerprint(key.public_key()))
    return Signer(key, path)


def device_public_key(folder: Path | None = None) -> ec.EllipticCurvePublicKey | None:
    """The public half of the key `load_signer` would use, or None when there is none yet (nothing is made)."""
    folder = key_folder() if folder is None else Path(folder)
    for name in (DEVICE_KEY, SIGNING_KEY):
        if (folder / name).exists():
            key = serialization.load_pem_private_key((folder / name).read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey):
                return key.public_key()
    return None


def public_pem(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_pem(text: str | bytes) -> ec.EllipticCurvePublicKey:
    """An EC public key from PEM (a public key, or a certificate's); ValueError naming what it got otherwise."""
    data = text.encode() if isinstance(text, str) else text
    if b"BEGIN CERTIFICATE" in data:
        from cryptography import x509
        key = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"the device key must be an EC (P-256) public key; got {type(key).__name__}")
    return key


def check(key: ec.EllipticCurvePublicKey, signature: str, data: bytes) -> bool:
    """Whether `signature` (base64 DER) is `key`'s signature of `data`."""
    try:
        key.verify(base64.b64decode(signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
