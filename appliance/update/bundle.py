"""Signed application bundles: what `alpr update` installs and `alpr update build` makes.

A bundle is a tar file with three members: `manifest.json` (format, version, creation time,
the payload's SHA-256 and size), `manifest.sig` (an Ed25519 signature of the manifest's exact
bytes) and `payload.tar.gz` (the `appliance`, `firmware` and `webui` packages as a `site/`
tree that goes first on the device process's PYTHONPATH). Only the application travels in a
bundle: Python and the wheels it needs come with the OS image, which the image's own A/B
update replaces (docs/updates.md). Nothing from a bundle touches the disk outside a scratch
folder until its signature and hash have been checked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.errors import UpdateError

log = logging.getLogger(__name__)

FORMAT = "alpr-bundle/1"
PACKAGES = ("appliance", "firmware", "webui")
_VERSION = re.compile(r"[0-9]+(\.[0-9]+){1,3}([.+-][A-Za-z0-9.]+)?")
_VERSION_LINE = re.compile(r'^version = "[^"]*"', re.MULTILINE)


@dataclass(frozen=True)
class Manifest:
    version: str
    created: str
    payload_sha256: str
    payload_size: int


def load_signer(path: Path) -> Ed25519PrivateKey:
    """The release signing key (PEM, unencrypted, kept off the devices)."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise UpdateError(f"{path} is not an Ed25519 private key; make one with `alpr update keygen`")
    return key


def load_trusted(path: Path) -> Ed25519PublicKey:
    """The public key a device trusts; a missing or wrong file refuses every bundle."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as e:
        raise UpdateError(f"cannot read the trusted update signer {path}: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise UpdateError(f"the trusted update signer {path} is not an Ed25519 public key")
    return key


def build_bundle(source: Path, version: str, signer: Ed25519PrivateKey, out: Path) -> Manifest:
    """Pack the packages under `source` as release `version`, signed by `signer`.

    The copy's `appliance/__init__.py` is stamped with `version`, so the running release
    reports the version the manifest promises (the health check waits for exactly that).
    """
    if not _VERSION.fullmatch(version):
        raise UpdateError(f"version {version!r} must look like 1.2.3 (digits and dots, optional suffix)")
    payload = _payload(source, version)
    manifest = Manifest(version, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        hashlib.sha256(payload).hexdigest(), len(payload))
    body = json.dumps({"format": FORMAT, **manifest.__dict__}, sort_keys=True).encode()
    with tarfile.open(out, "w") as tar:
        _add(tar, "manifest.json", body)
        _add(tar, "manifest.sig", base64.b64encode(signer.sign(body)))
        _add(tar, "payload.tar.gz", payload)
    return manifest


def _payload(source: Path, version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for package in PACKAGES:
            root = source / package
            if not (root / "__init__.py").is_file():
                raise UpdateError(f"{root} is not a Python package; build from the repository root")
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    data = path.read_bytes()
                    if path == root / "__init__.py" and package == "appliance":
                        data = _stamp(data, version)
                    _add(tar, f"site/{path.relative_to(source).as_posix()}", data)
    return buf.getvalue()


def _stamp(init: bytes, version: str) -> bytes:
    text, n = _VERSION_LINE.subn(f'version = "{version}"', init.decode())
    if n != 1:
        raise UpdateError("appliance/__init__.py has no single `version = \"...\"` line to stamp")
    return text.encode()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def verify_bundle(path: Path, trusted: Ed25519PublicKey) -> tuple[Manifest, bytes]:
    """The manifest and payload of a bundle whose signature and hash check out; else UpdateError."""
    try:
        with tarfile.open(path, "r") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            missing = {"manifest.json", "manifest.sig", "payload.tar.gz"} - set(members)
            if missing:
                raise UpdateError(f"{path} is not an update bundle: missing {', '.join(sorted(missing))}")
            body, sig, payload = (_read(tar, members[n]) for n in ("manifest.json", "manifest.sig", "payload.tar.gz"))
    except (OSError, tarfile.TarError) as e:
        raise UpdateError(f"cannot read the update bundle {path}: {e}") from e
    try:
        trusted.verify(base64.b64decode(sig, validate=True), body)
    except (InvalidSignature, ValueError) as e:
        raise UpdateError(f"{path}: the signature does not match the trusted update signer; refused") from e
    doc = json.loads(body)
    if doc.get("format") != FORMAT:
        raise UpdateError(f"{path}: bundle format {doc.get('format')!r}, this device reads {FORMAT!r}")
    manifest = Manifest(doc["version"], doc["created"], doc["payload_sha256"], int(doc["payload_size"]))
    if hashlib.sha256(payload).hexdigest() != manifest.payload_sha256 or len(payload) != manifest.payload_size:
        raise UpdateError(f"{path}: the payload does not match its signed hash; the bundle is damaged")
    return manifest, payload


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    f = tar.extractfile(member)
    if f is None:
        raise UpdateError(f"bundle member {member.name} is not a file")
    return f.read()


def unpack_payload(payload: bytes, into: Path) -> None:
    """Extract a verified payload; tarfile's data filter refuses links out and absolute paths."""
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as tar:
        tar.extractall(into, filter="data")
    for package in PACKAGES:
        if not (into / "site" / package / "__init__.py").is_file():
            raise UpdateError(f"the bundle's payload has no site/{package} package")
