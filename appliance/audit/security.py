"""Security events (POLICY LG-6) in the access-record chain: sign-ins, failures, lockouts, MFA, tamper.

They share the chain with the accesses to plate data so that one verifier and one copy at
the hub cover both, and an auditor reads them in one place. Each is an AccessRecord with
the category "security event", the event's name as its action and what is known about it
in `query` (never a password or a code). A failure to record a failed sign-in cannot undo
the failure, so callers of `failed` log and go on; a successful sign-in is refused when its
record cannot be written (LG-4), like any access.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from appliance.audit.records import SECURITY_EVENT, AccessRecord, StoredRecord, append

log = logging.getLogger(__name__)

EVENTS = ("sign-in", "sign-in failure", "account locked", "sign-out", "mfa enrolled", "mfa changed", "tamper",
          # account administration (appliance/users.py, training.py) and settings (appliance/settings.py)
          "account created", "account unlocked", "account disabled", "account enabled", "role change",
          "password change", "training record", "settings change",
          "tamper lock cleared")  # an administrator reopened data access after the door (appliance/tamper_door.py)
MAX_NAME = 64


def event(store_or_db: Any, name: str, username: str, client: str, *, at: datetime | None = None,
          agency: str = "", outcome: str = "ok", **detail: Any) -> StoredRecord:
    """Append one security event; raises (ValueError, a database error) when it cannot be written."""
    if name not in EVENTS:
        raise ValueError(f"security event must be one of {', '.join(EVENTS)}; got {name!r}")
    who = (username or "").strip()[:MAX_NAME] or "(none given)"  # a failed sign-in may name nobody real
    return append(store_or_db, AccessRecord(username=who, action=name, client=client or "unknown",
                                            purpose_category=SECURITY_EVENT, agency=agency, query=detail,
                                            outcome=outcome, result_count=0, at=at))


def note(store_or_db: Any, name: str, username: str, client: str, **kw: Any) -> None:
    """Record an event that has happened whatever the log says (sign-out, enrolment); failures are logged."""
    try:
        event(store_or_db, name, username, client, **kw)
    except Exception:
        log.exception("could not write the security event %s to the access records", name)


def failed(store_or_db: Any, name: str, username: str, client: str, **kw: Any) -> None:
    """Record a refusal (failed sign-in, lockout): outcome "refused", failures to record logged, not raised."""
    note(store_or_db, name, username, client, outcome="refused", **kw)

