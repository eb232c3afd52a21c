"""Purging old access records, leaving a signed anchor so the chain still verifies (POLICY LG-5).

Access records have their own period (store.retention_access_days, 2 years by default)
and leave only once the hub has them (no outbox entry of kind "access" left for them). The
purge takes the oldest run of records, 1..N, never the newest record (appending continues
from the chain's head, so the head stays in the table), and in one transaction: drops the
append-only DELETE trigger, deletes records 1..N, re-creates the trigger from the text it had,
and inserts the anchor (N, record N's hash, how many went, their time span, when, the public
key) signed by the device key (signing.py). Anchors are append-only too.

`verify` (records.verify calls it) starts the chain at the newest anchor: the first record
left must be N + 1 and carry record N's hash as its previous hash. An anchor whose fields
were edited, or one re-signed with another key, fails its signature against the device's
public key, which comes from the key folder (or is passed in), never from the anchor itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from peewee import Database

from appliance.audit import signing
from appliance.audit.records import GENESIS, AccessRecord, append, at_text
from appliance.errors import StoreError

log = logging.getLogger(__name__)

DEFAULT_DAYS = 730  # POLICY LG-5: 2 years on the device after the hub has them
TRIGGER = "access_records_no_delete"
_FIELDS = ("n", "hash", "purged", "oldest_at", "newest_at", "purged_at", "public_key")


@dataclass(frozen=True)
class Anchor:
    """Where the chain starts after a purge: the last purged record's place and hash, signed."""

    n: int
    hash: str
    purged: int
    oldest_at: str
    newest_at: str
    purged_at: str
    public_key: str  # PEM of the key that signed (for the record; trust comes from the device's own key)
    signature: str

    def signed_bytes(self) -> bytes:
        """What the signature covers: canonical JSON of every field but the signature."""
        body = {k: getattr(self, k) for k in _FIELDS}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _db(store_or_db) -> Database:
    return store_or_db if isinstance(store_or_db, Database) else store_or_db.database


def anchors(store_or_db) -> list[Anchor]:
    """Every anchor, oldest first."""
    rows = _db(store_or_db).execute_sql(f"SELECT {', '.join(_FIELDS)}, signature FROM access_anchors ORDER BY n")
    return [Anchor(*r) for r in rows]


def purge(store_or_db, now: datetime, days: float,
          signer: signing.Signer | Callable[[], signing.Signer]) -> Anchor | None:
    """Delete records older than `days` that the hub has, up to the newest-but-one; anchor and sign; None if none.

    `signer` may be a function that gives it: then the key is loaded (or made) only when there
    is something to purge, so a device that purges nothing never touches its key folder.
    """
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 <= days <= 36_500:
        raise ValueError(f"access-record retention must be a number of days from 0 to 36500; got {days!r}")
    db = _db(store_or_db)
    cutoff = at_text(now - timedelta(days=days))
    with db.atomic("IMMEDIATE"):
        last = _last_purgeable(db, cutoff)
        if last is None:
            return None
        if not isinstance(signer, signing.Signer):
            signer = signer()
        (trigger,) = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                    (TRIGGER,)).fetchone() or (None,)
        if trigger is None:
            raise StoreError(f"the access records' append-only trigger {TRIGGER} is missing: someone changed the "
                             "database; run `alpr audit verify` before purging")
        count, oldest, newest, h = db.execute_sql(
            "SELECT count(*), min(at), max(at), (SELECT hash FROM access_records WHERE n = ?) FROM access_records "
            "WHERE n <= ?", (last, last)).fetchone()
        db.execute_sql(f"DROP TRIGGER {TRIGGER}")
        db.execute_sql("DELETE FROM access_records WHERE n <= ?", (last,))
        db.execute_sql(trigger)
        unsigned = Anchor(last, h, count, oldest, newest, at_text(now), signer.public_pem, "")
        anchor = Anchor(**{**asdict(unsigned), "signature": signer.sign(unsigned.signed_bytes())})
        db.execute_sql(f"INSERT INTO access_anchors ({', '.join(_FIELDS)}, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       tuple(asdict(anchor).values()))
        append(db, AccessRecord(username="system", client="device", action="access records purged",
                                purpose_category="audit of the system", at=now, result_count=count,
                                purpose_text=f"retention of access records: {days:g} days after the hub has them",
                                query={"anchor": last, "before": cutoff, "key": signer.fingerprint}))
    log.info("purged %d access records up to number %d (signed anchor, key %s)", count, last, signer.fingerprint)
    return anchor


def _last_purgeable(db: Database, cutoff: str) -> int | None:
    """The highest n such that records up to it are all older than `cutoff`, at the hub, and not the head."""
    head = db.execute_sql("SELECT max(n), min(n) FROM access_records").fetchone()
    if head[0] is None:
        return None
    limits = [head[0] - 1]  # the head stays: append continues from it
    (young,) = db.execute_sql("SELECT min(n) FROM access_records WHERE at >= ?", (cutoff,)).fetchone()
    (unsent,) = db.execute_sql("SELECT min(r.n) FROM access_records r JOIN outbox o ON o.id = r.id "
                               "WHERE o.kind = 'access'").fetchone()
    limits += [v - 1 for v in (young, unsent) if v is not None]
    last = min(limits)
    return last if last >= head[1] else None


def start(store_or_db, public_key: ec.EllipticCurvePublicKey | None = None
          ) -> tuple[int, str, str | None, str | None]:
    """(n the chain continues from, its hash, the bad anchor's name or None, why); n 0 and GENESIS when none.

    `public_key` is the device's; by default the one in the key folder (signing.py).
    """
    found = anchors(store_or_db)
    if not found:
        return 0, GENESIS, None, None
    if public_key is None:
        public_key = signing.device_public_key()
    if public_key is None:
        return 0, GENESIS, f"anchor {found[-1].n}", (
            f"the purge anchor at record {found[-1].n} cannot be checked: there is no device key in "
            f"{signing.key_folder()} (give the device's public key)")
    pem = signing.public_pem(public_key)
    for a in found:
        name = f"anchor {a.n}"
        if a.public_key.strip() != pem.strip():
            return 0, GENESIS, name, (f"purge anchor at record {a.n} is signed by another key, not this device's "
                                      "(forged)")
        if not signing.check(public_key, a.signature, a.signed_bytes()):
            return 0, GENESIS, name, (f"purge anchor at record {a.n}: its signature does not match its contents "
                                      "(edited or forged)")
    last = found[-1]
    return last.n, last.hash, None, None
