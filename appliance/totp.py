"""The second factor (POLICY AC-4): RFC 6238 TOTP codes, each accepted once.

A code is good for its 30-second step and one step either side (phone clocks drift).
The account remembers the last step it accepted, and a code for that step or an earlier
one is refused: a code seen over a shoulder or in a proxy log cannot be used again. The
check-and-set is one UPDATE with the old step in its WHERE clause, so two requests racing
with the same code cannot both win. Enrolment shows a key (QR code, inline SVG) that only
becomes the account's key once a code made from it has been typed back.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

import pyotp
import segno

from appliance.audit import security
from appliance.store import Store
from appliance.store.models import UserRow
from appliance.store.times import to_rfc3339
from appliance.users import record_event, get_user

log = logging.getLogger(__name__)

STEP_S = 30
WINDOW = 1  # steps either side of now that still count
ISSUER = "ALPR appliance"


def step_of(now: datetime) -> int:
    """The TOTP time step that `now` falls in."""
    return int(now.timestamp()) // STEP_S


def code_at(secret: str, step: int) -> str:
    """The six-digit code of `secret` for time step `step` (tests and the demo's clients use it)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(step * STEP_S)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The step within the window whose code is `code`, else None (constant-time compare)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    now_step = step_of(now)
    found = None
    for step in range(now_step - WINDOW, now_step + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            found = step
    return found


def start_enrolment(store: Store, user_id: int) -> str:
    """The pending key for this account (made once, kept until confirmed), to show as a QR code."""
    row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
    if row.totp_pending:
        return row.totp_pending
    secret = pyotp.random_base32()
    with store.database.atomic():
        UserRow.update(totp_pending=secret).where(UserRow.id == user_id).execute(store.database)
    return secret


def confirm_enrolment(store: Store, user_id: int, code: str, now: datetime, *, actor: str) -> bool:
    """Make the pending key the account's own when `code` comes from it; its step is then used up."""
    row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
    if not row.totp_pending:
        return False
    step = matching_step(row.totp_pending, code, now)
    if step is None:
        return False
    with store.database.atomic():
        UserRow.update(totp_secret=row.totp_pending, totp_pending=None, totp_last_step=step).where(
            UserRow.id == user_id).execute(store.database)
        record_event(store, actor, row.username, "mfa enrolled", "", to_rfc3339(now))
    log.info("second factor enrolled for %s", row.username)
    return True


def enrol_with_secret(store: Store, user_id: int, secret: str, *, actor: str, now: datetime) -> None:
    """Set the account's key directly (provisioning and `alpr demo`, which hand the key over themselves).

    Also a security event in the access-record chain (LG-6), in the same transaction: the
    web UI's enrolment records its own, with the browser's address (webui/auth.py).
    """
    pyotp.TOTP(secret).now()  # a key that is not base32 fails here, before it is stored
    with store.database.atomic():
        UserRow.update(totp_secret=secret, totp_pending=None, totp_last_step=None).where(
            UserRow.id == user_id).execute(store.database)
        user = get_user(store, user_id)
        name = user.username if user else str(user_id)
        record_event(store, actor, name, "mfa enrolled", "key set directly", to_rfc3339(now))
        security.event(store.database, "mfa enrolled", name, "local", at=now, by=actor, how="key set directly")


def verify_code(store: Store, user_id: int, code: str, now: datetime) -> bool:
    """True when `code` is good now and its step is later than any accepted before (replay refused)."""
    row = UserRow.select().where(UserRow.id == user_id).bind(store.database).first()
    if row is None or not row.totp_secret:
        return False
    step = matching_step(row.totp_secret, code, now)
    if step is None:
        return False
    with store.database.atomic():
        won = UserRow.update(totp_last_step=step).where(
            (UserRow.id == user_id)
            & (UserRow.totp_last_step.is_null() | (UserRow.totp_last_step < step))).execute(store.database)
    if won != 1:
        log.warning("replayed TOTP code refused for %s", row.username)
    return won == 1


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of `uri` as inline SVG markup (no image request, so the CSP needs no data: URLs)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")
