"""Bearer tokens of hub clients for the pull API (POLICY DS-1: "a per-hub token over TLS").

A token is 256 random bits, shown once when created; the store keeps only its SHA-256
(a hash that needs no salt or stretching: the secret is random, not a password a person
chose, so there is nothing to guess). A token opens the pull API (webui/hub_api.py) and
nothing else; the web UI's pages ignore it. Revoked tokens stay listed, so an access
record never names a client that has vanished.

`record_pull` writes the minimal access record of every pull (time, client, path, query,
how many items); the pull is refused when it cannot be written (POLICY LG-4). A bad or
taken client name is an AccountError (a ValueError): a hub client is an account of sorts. Each
pull also goes into the hash-chained access records (appliance/audit/records.py, user
"hub:<client>", category "hub pull", the ids returned, and in its query how the client
authenticated: "token" or "certificate", see client_certs.py), in the same transaction as its
api_access row: both are written or the pull is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from peewee import IntegrityError

from appliance.errors import AccountError
from appliance.store import Store
from appliance.store.times import from_rfc3339, to_rfc3339

log = logging.getLogger(__name__)

PREFIX = "alprhub_"  # makes a leaked token recognisable to secret scanners
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TOKEN = re.compile(re.escape(PREFIX) + r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class HubToken:
    """A token as listed (never the token itself)."""

    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def check_name(name: str) -> None:
    """An AccountError unless `name` is a valid hub client name (tokens and client certificates share them)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AccountError(f"a hub client name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                         f"or digit; got {name!r}")


def create(store: Store, name: str, *, actor: str = "cli", now: datetime | None = None) -> str:
    """A new token for the hub client `name`; returned once, stored only as its hash."""
    check_name(name)
    token = PREFIX + secrets.token_urlsafe(32)
    at = to_rfc3339(now or datetime.now(timezone.utc))
    try:
        with store.database.atomic():
            store.database.execute_sql("INSERT INTO hub_tokens (name, token_hash, created_at, created_by) "
                                       "VALUES (?, ?, ?, ?)", (name, _hash(token), at, actor))
    except IntegrityError:
        raise AccountError(f"there is already a hub token named {name!r}; revoke it or choose another name") from None
    log.info("hub token %s created by %s", name, actor)
    return token


def verify(store: Store, token: str | None) -> str | None:
    """The client name of a valid, unrevoked token; None otherwise."""
    if not token or not _TOKEN.fullmatch(token):
        return None
    row = store.database.execute_sql("SELECT name FROM hub_tokens WHERE token_hash = ? AND revoked_at IS NULL",
                                     (_hash(token),)).fetchone()
    return None if row is None else row[0]


def revoke(store: Store, name: str, *, now: datetime | None = None) -> None:
    """The token named `name` opens nothing from now on."""
    with store.database.atomic():
        n = store.database.execute_sql("UPDATE hub_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                                       (to_rfc3339(now or datetime.now(timezone.utc)), name)).rowcount
    if n == 0:
        raise AccountError(f"there is no unrevoked hub token named {name!r}")
    log.info("hub token %s revoked", name)


def list_tokens(store: Store) -> list[HubToken]:
    rows = store.database.execute_sql("SELECT name, created_at, created_by, revoked_at FROM hub_tokens ORDER BY name")
    return [HubToken(n, from_rfc3339(c), by, None if r is None else from_rfc3339(r)) for n, c, by, r in rows]


def record_pull(store: Store, client: str, path: str, query: str, count: int, now: datetime | None = None, *,
                address: str = "unknown", ids: Sequence[str] = (), auth: str = "token") -> None:
    """The access records of one pull; raises when they cannot be written (the caller refuses the pull).

    `auth` is how the client proved who it is ("token" or "certificate"), kept in the record's query."""
    from appliance.audit.records import AccessRecord, append  # audit imports the store; keep this import lazy
    at = now or datetime.now(timezone.utc)
    with store.database.atomic("IMMEDIATE"):
        store.database.execute_sql("INSERT INTO api_access (at, client, path, query, count) VALUES (?, ?, ?, ?, ?)",
                                   (to_rfc3339(at), client, path, query, count))
        append(store, AccessRecord(username=f"hub:{client}", action="hub pull", client=address,
                                   purpose_category="hub pull", query={"path": path, "query": query, "auth": auth},
                                   result_ids=list(ids), result_count=count, at=at))


def pulls(store: Store, limit: int = 100) -> list[dict]:
    """The latest pull records, newest first."""
    rows = store.database.execute_sql("SELECT at, client, path, query, count FROM api_access ORDER BY id DESC LIMIT ?",
                                      (limit,))
    return [{"at": a, "client": c, "path": p, "query": q, "count": n} for a, c, p, q, n in rows]
