"""Web UI accounts: named users with Argon2id password hashes, in the store's database.

No account ships with the software (POLICY AC-9): the first administrator is created at
provisioning (or by `alpr demo` with a random password). Passwords follow AC-5: at least
15 characters by default (configurable, never under 8), no composition rules. Lockout,
second factor and the breached-password list come with issue #8.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from appliance.errors import AccountError
from appliance.store import Store
from appliance.store.models import UserRow
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

ROLES = ("administrator", "supervisor", "operator", "auditor", "records_manager")
MIN_PASSWORD_LENGTH = 15
FLOOR_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # hashing a megabyte on every sign-in attempt is a denial of service
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_dummy_hashes: dict[tuple, str] = {}


@dataclass(frozen=True)
class User:
    """An account as the web UI sees it (never the hash)."""

    id: int
    username: str
    role: str
    disabled: bool


def cheap_hasher() -> PasswordHasher:
    """Argon2id with tiny costs: for tests only, where the default ~64 MiB per hash is waste."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def create_user(store: Store, username: str, password: str, role: str = "administrator", *,
                hasher: PasswordHasher | None = None, min_length: int = MIN_PASSWORD_LENGTH) -> User:
    """Add a named account; the username is kept in lower case and must be new."""
    name = _normalise(username)
    if not _USERNAME.fullmatch(name):
        raise AccountError(f"username must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with "
                           f"a letter or digit; got {username!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if min_length < FLOOR_PASSWORD_LENGTH:
        raise AccountError(f"the minimum password length may not be set below {FLOOR_PASSWORD_LENGTH}; got {min_length}")
    if not min_length <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be {min_length} to {MAX_PASSWORD_LENGTH} characters; "
                           f"got {len(password)} (a few random words make a good one)")
    ph = hasher or PasswordHasher()
    try:
        with store.database.atomic():
            uid = UserRow.insert(username=name, password_hash=ph.hash(password), role=role,
                                 created_at=to_rfc3339(datetime.now(timezone.utc))).execute(store.database)
    except IntegrityError:
        raise AccountError(f"username {name!r} is taken; choose another") from None
    log.info("user %s created with role %s", name, role)
    return User(int(uid), name, role, False)


def verify(store: Store, username: str, password: str, *, hasher: PasswordHasher | None = None) -> User | None:
    """The user when the password is right and the account enabled, else None (no reason given).

    An unknown name costs as much as a wrong password, so timing does not reveal which
    names exist. A hash made with older parameters is upgraded after a good sign-in.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    ph = hasher or PasswordHasher()
    row = UserRow.select().where(UserRow.username == _normalise(username)).bind(store.database).first()
    if row is None:
        _burn(ph, password)
        return None
    try:
        ph.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if row.disabled:
        return None
    if ph.check_needs_rehash(row.password_hash):
        with store.database.atomic():
            UserRow.update(password_hash=ph.hash(password)).where(UserRow.id == row.id).execute(store.database)
    return _user(row)


def get_user(store: Store, user_id: int) -> User | None:
    """The account with this id, or None (the web session loader uses it)."""
    row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
    return None if row is None else _user(row)


def find_user(store: Store, username: str) -> User | None:
    """The account with this name, or None."""
    row = UserRow.select().where(UserRow.username == _normalise(username)).bind(store.database).first()
    return None if row is None else _user(row)


def set_password(store: Store, username: str, password: str, *, hasher: PasswordHasher | None = None,
                 min_length: int = MIN_PASSWORD_LENGTH) -> None:
    """Replace an account's password (same rules as at creation)."""
    if not min_length <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be {min_length} to {MAX_PASSWORD_LENGTH} characters; got {len(password)}")
    ph = hasher or PasswordHasher()
    with store.database.atomic():
        n = UserRow.update(password_hash=ph.hash(password)).where(UserRow.username == _normalise(username)).execute(store.database)
    if n != 1:
        raise AccountError(f"no user named {username!r}")


def _user(row: UserRow) -> User:
    return User(row.id, row.username, row.role, bool(row.disabled))


def _normalise(username: str) -> str:
    return username.strip().lower()


def _burn(ph: PasswordHasher, password: str) -> None:
    """Verify against a hash of nothing so a miss on the name takes as long as a miss on the password."""
    key = (ph.time_cost, ph.memory_cost, ph.parallelism, ph.hash_len, ph.salt_len)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = ph.hash("not a password of anyone")
    try:
        ph.verify(_dummy_hashes[key], password)
    except VerificationError:
        pass
