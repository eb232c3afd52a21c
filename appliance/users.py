"""Web UI accounts: named users with Argon2id password hashes, lockout and session epochs.

No account ships with the software (POLICY AC-9): the first administrator is created at
provisioning or by `alpr user create` (or by `alpr demo` with a random password).
Passwords follow AC-5 (passwords.py). Five failed sign-ins within 15 minutes lock the
account until an administrator unlocks it (AC-6). An account without a full sign-in for
90 days is disabled (AC-3); disabling bumps the account's session epoch, which every web
request compares with its own, so live sessions end at their next request. The second
factor is in totp.py, training records in training.py. Every change is an account event.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import IntegrityError

from appliance.audit import security
from appliance.errors import AccountError
from appliance.passwords import FLOOR_LENGTH, MAX_LENGTH, MIN_LENGTH, check_password
from appliance.roles import ROLES
from appliance.store import Store
from appliance.store.models import AccountEventRow, SignInFailureRow, UserRow
from appliance.store.times import from_rfc3339, to_rfc3339

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = MIN_LENGTH
FLOOR_PASSWORD_LENGTH = FLOOR_LENGTH
MAX_PASSWORD_LENGTH = MAX_LENGTH
LOCK_AFTER = 5  # POLICY AC-6
LOCK_WINDOW = timedelta(minutes=15)
INACTIVE_AFTER = timedelta(days=90)  # POLICY AC-3
# Account events that an administrator (or the system) causes also go to the access-record chain
# as LG-6 security events; sign-ins, failures and lockouts are written there by the sign-in code.
CHAIN_EVENTS = {"created": "account created", "unlocked": "account unlocked", "disabled": "account disabled",
                "enabled": "account enabled", "role changed": "role change", "password changed": "password change",
                "mfa required": "mfa changed", "mfa relaxed": "mfa changed", "training recorded": "training record"}
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
_dummy_hashes: dict[tuple, str] = {}


@dataclass(frozen=True)
class User:
    """An account as the web UI sees it (never the hash or the TOTP key)."""

    id: int
    username: str
    role: str
    disabled: bool
    locked: bool = False
    mfa_required: bool = True
    mfa_enrolled: bool = False
    session_epoch: int = 0
    last_active: datetime | None = None

    def inactive(self, now: datetime) -> bool:
        """True when the last full sign-in (or creation) is more than 90 days before `now`."""
        return self.last_active is not None and now - self.last_active > INACTIVE_AFTER


def cheap_hasher() -> PasswordHasher:
    """Argon2id with tiny costs: for tests only, where the default ~64 MiB per hash is waste."""
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_user(store: Store, username: str, password: str, role: str = "administrator", *,
                hasher: PasswordHasher | None = None, min_length: int = MIN_PASSWORD_LENGTH,
                actor: str = "system", now: datetime | None = None) -> User:
    """Add a named account; the username is kept in lower case and must be new."""
    name = _normalise(username)
    if not _USERNAME.fullmatch(name):
        raise AccountError(f"username must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting with "
                           f"a letter or digit; got {username!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    check_password(password, min_length=min_length, username=name)
    ph = hasher or PasswordHasher()
    at = to_rfc3339(now or _now())
    try:
        with store.database.atomic():
            uid = UserRow.insert(username=name, password_hash=ph.hash(password), role=role, created_at=at,
                                 last_active=at).execute(store.database)
            record_event(store, actor, name, "created", f"role {role}", at)
    except IntegrityError:
        raise AccountError(f"username {name!r} is taken; choose another") from None
    log.info("user %s created with role %s", name, role)
    return get_user(store, int(uid))  # type: ignore[return-value]


def verify(store: Store, username: str, password: str, *, hasher: PasswordHasher | None = None,
           now: datetime | None = None) -> User | None:
    """The user when the password is right and the account usable, else None (no reason given).

    A wrong password counts towards the lockout. A locked, disabled or unknown account
    costs as much as a wrong password, so timing does not reveal which names exist. A hash
    made with older parameters is upgraded after a good password.
    """
    now = now or _now()
    ph = hasher or PasswordHasher()
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    row = UserRow.select().where(UserRow.username == _normalise(username)).bind(store.database).first()
    if row is None:
        _burn(ph, password)
        return None
    try:
        ph.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        if not row.disabled:
            record_failure(store, row.id, now)
        return None
    user = _user(row)
    if user.disabled or user.locked:
        return None
    if user.inactive(now):
        disable(store, user.username, actor="system", reason="inactive for 90 days", now=now)
        return None
    if ph.check_needs_rehash(row.password_hash):
        with store.database.atomic():
            UserRow.update(password_hash=ph.hash(password)).where(UserRow.id == row.id).execute(store.database)
    return user


def record_failure(store: Store, user_id: int, now: datetime) -> bool:
    """Count a failed sign-in (password or second factor); True when this one locked the account."""
    since = to_rfc3339(now - LOCK_WINDOW)
    with store.database.atomic():
        SignInFailureRow.insert(user_id=user_id, at=to_rfc3339(now)).execute(store.database)
        recent = (SignInFailureRow.select().where((SignInFailureRow.user_id == user_id) & (SignInFailureRow.at > since))
                  .bind(store.database).count())
        row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
        record_event(store, "system", row.username, "sign-in failed", f"{recent} within 15 minutes", to_rfc3339(now))
        if recent < LOCK_AFTER or row.locked_at:
            return False
        UserRow.update(locked_at=to_rfc3339(now)).where(UserRow.id == user_id).execute(store.database)
        record_event(store, "system", row.username, "locked", f"{recent} failed sign-ins within 15 minutes", to_rfc3339(now))
    log.warning("account %s locked after %d failed sign-ins", row.username, recent)
    return True


def second_factor_failed(store: Store, user: User, client: str, now: datetime, agency: str) -> bool:
    """A wrong second-factor code, from the web UI or the command line: counted toward the lockout
    (AC-6) and written to the access records with the lockout it caused (LG-6). True when it locked."""
    locked = record_failure(store, user.id, now)
    security.failed(store, "sign-in failure", user.username, client, at=now, agency=agency, step="second factor")
    if locked:
        security.failed(store, "account locked", user.username, client, at=now, agency=agency, after="second factor")
    return locked


def signed_in(store: Store, user_id: int, now: datetime | None = None) -> None:
    """A full sign-in (password and second factor): activity noted, failures forgotten."""
    at = to_rfc3339(now or _now())
    with store.database.atomic():
        UserRow.update(last_active=at).where(UserRow.id == user_id).execute(store.database)
        SignInFailureRow.delete().where(SignInFailureRow.user_id == user_id).execute(store.database)
        row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
        record_event(store, row.username, row.username, "signed in", "", at)


def unlock(store: Store, username: str, *, actor: str, now: datetime | None = None) -> User:
    """Clear a lockout (an administrator's action) and forget the failures that caused it."""
    user = _require(store, username)
    at = to_rfc3339(now or _now())
    with store.database.atomic():
        UserRow.update(locked_at=None).where(UserRow.id == user.id).execute(store.database)
        SignInFailureRow.delete().where(SignInFailureRow.user_id == user.id).execute(store.database)
        record_event(store, actor, user.username, "unlocked", "", at)
    log.info("account %s unlocked by %s", user.username, actor)
    return get_user(store, user.id)  # type: ignore[return-value]


def disable(store: Store, username: str, *, actor: str, reason: str, now: datetime | None = None) -> User:
    """Disable an account and end its live sessions (the session epoch moves on)."""
    user = _require(store, username)
    with store.database.atomic():
        UserRow.update(disabled=True, session_epoch=UserRow.session_epoch + 1).where(
            UserRow.id == user.id).execute(store.database)
        record_event(store, actor, user.username, "disabled", reason, to_rfc3339(now or _now()))
    log.info("account %s disabled by %s: %s", user.username, actor, reason)
    return get_user(store, user.id)  # type: ignore[return-value]


def enable(store: Store, username: str, *, actor: str, now: datetime | None = None) -> User:
    """Enable a disabled account; its 90 days of allowed inactivity start again now."""
    user = _require(store, username)
    at = to_rfc3339(now or _now())
    with store.database.atomic():
        UserRow.update(disabled=False, last_active=at).where(UserRow.id == user.id).execute(store.database)
        record_event(store, actor, user.username, "enabled", "", at)
    return get_user(store, user.id)  # type: ignore[return-value]


def disable_inactive(store: Store, now: datetime | None = None) -> list[str]:
    """Disable every enabled account idle for more than 90 days (daily housekeeping); their names."""
    now = now or _now()
    rows = UserRow.select().where(UserRow.disabled == False).bind(store.database)  # noqa: E712 (peewee)
    idle = [_user(r).username for r in rows if _user(r).inactive(now)]
    for name in idle:
        disable(store, name, actor="system", reason="inactive for 90 days", now=now)
    return idle


def set_mfa_required(store: Store, username: str, required: bool, *, actor: str, now: datetime | None = None) -> User:
    """Require or relax the second factor for one account; never relaxed for an administrator (AC-4)."""
    user = _require(store, username)
    if not required and user.role == "administrator":
        raise AccountError(f"{user.username} is an administrator: the second factor cannot be relaxed for "
                           f"administrators (POLICY AC-4)")
    with store.database.atomic():
        UserRow.update(mfa_required=required).where(UserRow.id == user.id).execute(store.database)
        record_event(store, actor, user.username, "mfa required" if required else "mfa relaxed", "", to_rfc3339(now or _now()))
    return get_user(store, user.id)  # type: ignore[return-value]


def get_user(store: Store, user_id: int) -> User | None:
    """The account with this id, or None (the web session loader uses it)."""
    row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
    return None if row is None else _user(row)


def find_user(store: Store, username: str) -> User | None:
    """The account with this name, or None."""
    row = UserRow.select().where(UserRow.username == _normalise(username)).bind(store.database).first()
    return None if row is None else _user(row)


def all_users(store: Store) -> list[User]:
    """Every account, by name."""
    return [_user(r) for r in UserRow.select().order_by(UserRow.username).bind(store.database)]


def set_password(store: Store, username: str, password: str, *, hasher: PasswordHasher | None = None,
                 min_length: int = MIN_PASSWORD_LENGTH, actor: str = "system", now: datetime | None = None) -> None:
    """Replace an account's password (same rules as at creation); live sessions end."""
    user = _require(store, username)
    check_password(password, min_length=min_length, username=user.username)
    ph = hasher or PasswordHasher()
    with store.database.atomic():
        UserRow.update(password_hash=ph.hash(password), session_epoch=UserRow.session_epoch + 1).where(
            UserRow.id == user.id).execute(store.database)
        record_event(store, actor, user.username, "password changed", "", to_rfc3339(now or _now()))


def events(store: Store, username: str | None = None) -> list[tuple[str, str, str, str, str]]:
    """Account events (at, actor, username, event, detail), oldest first."""
    q = AccountEventRow.select().order_by(AccountEventRow.id)
    if username is not None:
        q = q.where(AccountEventRow.username == _normalise(username))
    return [(r.at, r.actor, r.username, r.event, r.detail) for r in q.bind(store.database)]


def record_event(store: Store, actor: str, username: str, event: str, detail: str, at: str) -> None:
    """Record a security event (POLICY LG-6); callers hold the transaction.

    Administrative events also enter the access-record chain in the same transaction, so an
    account change that cannot be recorded there does not happen (LG-4).
    """
    AccountEventRow.insert(at=at, actor=actor, username=username, event=event, detail=detail).execute(store.database)
    if event in CHAIN_EVENTS:
        client = "cli" if actor.startswith("cli") else "local"  # the address is not known down here
        security.event(store.database, CHAIN_EVENTS[event], actor, client, at=from_rfc3339(at),
                       account=username, event=event, detail=detail)


def set_role(store: Store, username: str, role: str, *, actor: str, now: datetime | None = None) -> User:
    """Give an account another role; live sessions end so the new role applies at once.

    The last enabled administrator keeps the role: a device nobody can administer needs a
    technician at the pole.
    """
    user = _require(store, username)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if role == user.role:
        return user
    if user.role == "administrator" and not user.disabled and _enabled_administrators(store) <= 1:
        raise AccountError(f"{user.username} is the only enabled administrator; make another administrator first")
    with store.database.atomic():
        UserRow.update(role=role, session_epoch=UserRow.session_epoch + 1).where(
            UserRow.id == user.id).execute(store.database)
        record_event(store, actor, user.username, "role changed", f"from {user.role} to {role}",
                     to_rfc3339(now or _now()))
    log.info("account %s: role %s -> %s by %s", user.username, user.role, role, actor)
    return get_user(store, user.id)  # type: ignore[return-value]


def _enabled_administrators(store: Store) -> int:
    return (UserRow.select().where((UserRow.role == "administrator") & (UserRow.disabled == False))  # noqa: E712
            .bind(store.database).count())


def _require(store: Store, username: str) -> User:
    user = find_user(store, username)
    if user is None:
        raise AccountError(f"no user named {username!r}")
    return user


def _user(row: UserRow) -> User:
    last = row.last_active or row.created_at
    return User(row.id, row.username, row.role, bool(row.disabled), locked=row.locked_at is not None,
                mfa_required=bool(row.mfa_required) or row.role == "administrator",
                mfa_enrolled=row.totp_secret is not None, session_epoch=int(row.session_epoch or 0),
                last_active=from_rfc3339(last) if last else None)


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
