"""Certificate lifecycle after provisioning: expiry warnings, and renewal before it is too late.

A device certificate that expires on a pole cuts the device off its hub (and, in hub-bound
mode, from its own store after the next restart), and a renewal needs the current certificate,
so renewal must happen well before expiry: from 30 days ahead, once a day (the
`alpr-cert-renew.timer` unit runs `alpr cert renew`). The device certificate is renewed over
EST with the current one (appliance/provision/enrol.py); the web UI's self-signed certificate
is made anew. A UI certificate some other CA issued cannot be renewed here and only warns.
`certificate_expiries` feeds the health page and the heartbeat.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509

from appliance.config import Config
from appliance.atomic_file import keep_owner
from appliance.provision.enrol import EnrolmentError, Expiry, expiry, renew
from appliance.serve import CERT_NAME, KEY_NAME, ensure_self_signed, tls_folder

log = logging.getLogger(__name__)

RENEW_BEFORE_DAYS = 30


def ui_certificate_folder(cfg: Config) -> Path:
    """Where `alpr serve` keeps its certificate (serve.tls_folder)."""
    return tls_folder(cfg.store.path)


def certificate_expiries(cfg: Config, now: datetime | None = None) -> list[Expiry]:
    """Each certificate the device depends on that exists: the hub client certificate and the UI's."""
    paths = [cfg.hub.client_cert] if cfg.hub.client_cert else []
    if cfg.web.tls:
        paths.append(ui_certificate_folder(cfg) / CERT_NAME)
    return [expiry(Path(p), now) for p in paths if p and Path(p).is_file()]


def certificate_report(cfg: Config, now: datetime | None = None) -> list[dict]:
    """The heartbeat's and health page's view: each certificate, its end and any warning."""
    return [{"path": str(e.path), "not_after": f"{e.not_after:%Y-%m-%dT%H:%M:%SZ}", "days_left": round(e.days_left, 1),
             "warning": e.warning} for e in certificate_expiries(cfg, now)]


def renew_due(cfg: Config, now: datetime | None = None) -> list[str]:
    """Renew what expires within RENEW_BEFORE_DAYS; returns one line per certificate renewed.

    Raises EnrolmentError when the device certificate is due and the hub refuses or cannot be
    reached: the caller (a daily timer) fails loudly and tries again tomorrow.
    """
    now = now or datetime.now(timezone.utc)
    done: list[str] = []
    # the UI's own certificate first: it needs no network, so a hub outage cannot hold it up
    ui = ui_certificate_folder(cfg) / CERT_NAME
    if cfg.web.tls and ui.is_file() and expiry(ui, now).days_left <= RENEW_BEFORE_DAYS:
        if _self_signed(ui):
            _remake_self_signed(ui.parent, cfg.web.host)
            done.append(f"web UI certificate {ui} made anew (self-signed)")
        else:
            log.warning("the web UI certificate %s expires soon and was issued by another CA: renew it there", ui)
    hub = cfg.hub
    if hub.url and hub.client_cert and hub.client_private_pem and hub.ca_file and Path(hub.client_cert).is_file():
        due = expiry(Path(hub.client_cert), now)
        if due.days_left <= RENEW_BEFORE_DAYS:
            cert = renew(hub.url, Path(hub.ca_file), Path(hub.client_private_pem), Path(hub.client_cert))
            done.append(f"device certificate {hub.client_cert} renewed until {cert.not_valid_after_utc:%Y-%m-%d}")
    return done


def _self_signed(path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.issuer == cert.subject


def _remake_self_signed(folder: Path, host: str) -> None:
    """A new key and certificate beside the old, then renamed over them (key first, then cert)."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cert, key = ensure_self_signed(Path(tmp), host)
        keep_owner(key, folder / KEY_NAME)  # `alpr serve` runs as the alpr user; the timer as root
        keep_owner(cert, folder / CERT_NAME)
        os.replace(key, folder / KEY_NAME)
        os.replace(cert, folder / CERT_NAME)


# -- alpr cert status | renew -----------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cert", help="certificate expiry and renewal (device certificate, web UI certificate)")
    csub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = csub.add_parser("status", help="each certificate and the days it has left (warns from 30 days)")
    s.add_argument("--config", help="TOML config file (default /etc/alpr/alpr.toml)")
    s.set_defaults(func=_status)
    r = csub.add_parser("renew", help="renew what expires within 30 days (run daily by alpr-cert-renew.timer)")
    r.add_argument("--config", help="TOML config file (default /etc/alpr/alpr.toml)")
    r.add_argument("--restart", help="command run after a renewal so the services load the new certificates "
                                     "(e.g. 'systemctl try-restart alpr-run.service alpr-serve.service')")
    r.set_defaults(func=_renew)


def _load(a: argparse.Namespace) -> Config:
    from appliance.config import load_config
    return load_config(Path(a.config) if a.config else None, os.environ)


def _status(a: argparse.Namespace) -> int:
    found = certificate_expiries(_load(a))
    for e in found:
        print(f"{e.path}: valid until {e.not_after:%Y-%m-%d} ({e.days_left:.0f} days){'  ' + e.warning if e.warning else ''}")
    if not found:
        print("no certificates configured (hub.client_cert unset, web.tls off or not yet made)")
    return 1 if any(e.warning for e in found) else 0


def _renew(a: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        done = renew_due(_load(a))
    except EnrolmentError as e:
        print(f"alpr cert renew: {e}", flush=True)
        return 1
    for line in done:
        print(line)
    if done and a.restart:
        subprocess.run(shlex.split(a.restart), check=False)
    if not done:
        print(f"nothing due: every certificate has more than {RENEW_BEFORE_DAYS} days left")
    return 0
