"""Client certificates of hub clients for the pull API (POLICY DS-1 "mutual TLS", AC-2 "machine
tokens or certificates limited to the pull API").

A certificate opens the pull API only when both hold (pinning both):
1. it chains to `web.client_ca` (the TLS handshake checks this: appliance/serve.py loads
   that CA, and only that CA, to verify client certificates), and
2. its SHA-256 fingerprint (of the DER) is registered here under a hub client name
   (`alpr hub cert add NAME --cert FILE | --fingerprint HEX`).
The CA alone is not enough: an agency CA may issue certificates to many machines, and
only the ones named here are hub clients. Revocation removes the registration from use
(revoked_at is set): the certificate opens nothing from then on, whatever its expiry; the
row stays listed, so an access record never names a client that has vanished, and a
revoked fingerprint cannot be registered again (issue a new certificate). A client may
hold several certificates (rotation: register the new one before the old one expires)
and a token as well; they share the name, so they share its rate limit.
"""

from __future__ import annotations

import hashlib
import logging
import re
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from peewee import IntegrityError

from appliance.errors import AccountError
from appliance.hub.tokens import check_name
from appliance.store import Store
from appliance.store.times import from_rfc3339, to_rfc3339

log = logging.getLogger(__name__)

_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ClientCert:
    """A registered certificate as listed."""

    name: str
    fingerprint: str
    subject: str
    not_after: datetime | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def fingerprint_of(der: bytes) -> str:
    """The SHA-256 of a certificate's DER bytes, lowercase hex without separators."""
    return hashlib.sha256(der).hexdigest()


def der_of_pem(pem: str) -> bytes:
    """The DER bytes of the first certificate in `pem`."""
    start = pem.find(ssl.PEM_HEADER)
    end = pem.find(ssl.PEM_FOOTER, start)
    if start < 0 or end < 0:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) found")
    return ssl.PEM_cert_to_DER_cert(pem[start:end + len(ssl.PEM_FOOTER)])


def normalise_fingerprint(text: str) -> str:
    """'AB:CD:...' or 'abcd...' (64 hex digits, colons and spaces allowed) -> lowercase hex, or AccountError."""
    hexed = re.sub(r"[:\s]", "", text or "").lower()
    if not _HEX.fullmatch(hexed):
        raise AccountError(f"a certificate fingerprint is its SHA-256: 64 hex digits, colons allowed "
                           f"(openssl x509 -noout -fingerprint -sha256 -in FILE); got {text!r}")
    return hexed


def read_cert_file(path: Path) -> tuple[str, str, datetime | None]:
    """(fingerprint, subject, not_after) of the PEM or DER certificate in `path`."""
    from cryptography import x509
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AccountError(f"cannot read the certificate file {path}: {e.strerror or e}") from None
    try:
        cert = x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data else x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise AccountError(f"{path} is not a PEM or DER X.509 certificate: {e}") from None
    from cryptography.hazmat.primitives.serialization import Encoding
    return fingerprint_of(cert.public_bytes(Encoding.DER)), cert.subject.rfc4514_string(), cert.not_valid_after_utc


def add(store: Store, name: str, fingerprint: str, *, subject: str = "", not_after: datetime | None = None,
        actor: str = "cli", now: datetime | None = None) -> str:
    """Register the certificate with this SHA-256 as hub client `name`; returns the normalised fingerprint."""
    check_name(name)
    fp = normalise_fingerprint(fingerprint)
    at = to_rfc3339(now or datetime.now(timezone.utc))
    try:
        with store.database.atomic():
            store.database.execute_sql(
                "INSERT INTO hub_client_certs (name, fingerprint, subject, not_after, created_at, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, fp, subject, None if not_after is None else to_rfc3339(not_after), at, actor))
    except IntegrityError:
        row = store.database.execute_sql("SELECT name, revoked_at FROM hub_client_certs WHERE fingerprint = ?",
                                         (fp,)).fetchone()
        if row is not None and row[1] is not None:
            raise AccountError(f"the certificate {fp} was revoked (client {row[0]!r}); a revoked certificate "
                               "cannot be registered again: issue a new one") from None
        raise AccountError(f"the certificate {fp} is already registered as hub client {row and row[0]!r}") from None
    log.info("hub client certificate %s registered for %s by %s", fp, name, actor)
    return fp


def client_for(store: Store, der: bytes) -> str | None:
    """The hub client name of a registered, unrevoked certificate (DER bytes); None otherwise."""
    row = store.database.execute_sql("SELECT name FROM hub_client_certs WHERE fingerprint = ? AND revoked_at IS NULL",
                                     (fingerprint_of(der),)).fetchone()
    return None if row is None else row[0]


def revoke(store: Store, name: str, fingerprint: str | None = None, *, now: datetime | None = None) -> int:
    """Revoke `name`'s certificates (or only the one with `fingerprint`); returns how many."""
    sql, args = "UPDATE hub_client_certs SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [name]
    if fingerprint is not None:
        sql += " AND fingerprint = ?"
        args.append(normalise_fingerprint(fingerprint))
    with store.database.atomic():
        n = store.database.execute_sql(sql, (to_rfc3339(now or datetime.now(timezone.utc)), *args)).rowcount
    if n == 0:
        which = f" with fingerprint {args[1]}" if fingerprint is not None else ""
        raise AccountError(f"hub client {name!r} has no registered, unrevoked certificate{which}")
    log.info("%d hub client certificate(s) of %s revoked", n, name)
    return n


def list_certs(store: Store) -> list[ClientCert]:
    """Every registered certificate, revoked ones too, by client name then registration time."""
    rows = store.database.execute_sql("SELECT name, fingerprint, subject, not_after, created_at, created_by, "
                                      "revoked_at FROM hub_client_certs ORDER BY name, id")
    return [ClientCert(n, fp, s, None if na is None else from_rfc3339(na), from_rfc3339(c), by,
                       None if r is None else from_rfc3339(r)) for n, fp, s, na, c, by, r in rows]
