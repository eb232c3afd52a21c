"""`alpr update BUNDLE | --status` on the device and `alpr release keygen | build` for whoever signs releases."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.errors import UpdateError
from appliance.update.bundle import build_bundle, load_signer, load_trusted
from appliance.update.health_mark import read_mark
from appliance.update.updater import apply_update, require_installed

log = logging.getLogger(__name__)


def add_parser(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("update", help="install a signed application bundle; roll back unless it reports healthy")
    u.add_argument("bundle", nargs="?", metavar="BUNDLE", help="the .alpr bundle made by `alpr release build`")
    u.add_argument("--status", action="store_true", help="print the current and previous release and the health mark")
    u.add_argument("--config", help="TOML config file (default /etc/alpr/alpr.toml); [update] is read from it")
    u.set_defaults(func=_update)
    r = sub.add_parser("release", help="make release signing keys and signed update bundles (off the device)")
    rsub = r.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = rsub.add_parser("keygen", help="a new Ed25519 signing key (PEM) and its public half (PEM.pub)")
    k.add_argument("--out", required=True, help="private key file to create (mode 0600); the public key goes to OUT.pub")
    k.set_defaults(func=_keygen)
    b = rsub.add_parser("build", help="pack appliance/, firmware/ and webui/ as a signed bundle")
    b.add_argument("--signer", required=True, help="the private key from `alpr release keygen`")
    b.add_argument("--version", required=True, help="the release version, e.g. 0.2.0 (stamped into the bundle)")
    b.add_argument("--out", required=True, help="bundle file to write")
    b.add_argument("--source", default=".", help="repository root holding the packages (default: .)")
    b.set_defaults(func=_build)


def _config(a: argparse.Namespace):
    from appliance.config import load_config
    return load_config(Path(a.config) if a.config else None, os.environ)


def _update(a: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = _config(a).update
    releases = require_installed(cfg.root)
    if a.status or not a.bundle:
        print(json.dumps({"current": releases.current(), "previous": releases.previous(),
                          "installed": releases.installed(), "health_mark": read_mark(cfg.health_file)}, indent=2))
        return 0
    result = apply_update(Path(a.bundle), load_trusted(cfg.trusted_signer), releases,
                          lambda: _restart(cfg.restart_command), health_file=cfg.health_file,
                          timeout_s=cfg.health_timeout_s)
    if not result.healthy:
        print(f"alpr update: release {result.version} did not report healthy within {result.waited_s:.0f} s; "
              f"rolled back to {result.previous or 'the image release'}", file=sys.stderr)
        return 1
    print(f"release {result.version} running and healthy after {result.waited_s:.1f} s "
          f"(previous: {result.previous or 'the image release'})")
    return 0


def _restart(command: str) -> None:
    argv = shlex.split(command)
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a failed restart is not fatal: the health wait decides
        log.error("restart command %s exited %d: %s", argv, done.returncode, done.stderr.strip())


def _keygen(a: argparse.Namespace) -> int:
    out = Path(a.out)
    if out.exists():
        raise UpdateError(f"{out} exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"signing key {out}; install {pub} on devices as update.trusted_signer")
    return 0


def _build(a: argparse.Namespace) -> int:
    m = build_bundle(Path(a.source), a.version, load_signer(Path(a.signer)), Path(a.out))
    print(f"{a.out}: release {m.version}, payload {m.payload_size} bytes, sha256 {m.payload_sha256}")
    return 0
