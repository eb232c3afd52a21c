"""The enclosure door: an opened door raises an alert at the pole, writes a security access
record, and (with `tamper.lock_on_door = true`) locks access to plate data in the web UI
until an administrator clears the lock from the health page; the clearing is recorded too.

The lock is a small file in the store folder (`tamper-lock.json`) because `alpr run` (which
sees the door) and `alpr serve` (which enforces the lock) are separate processes, and the
web UI checks it on every data request: a stat is cheap, a scan of the access log is not.
The access records are the evidence; the file is only the switch. A lock that cannot be
read (corrupt file) counts as locked: fail closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from appliance.atomic_file import replace_file
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

LOCK_FILE = "tamper-lock.json"
CLEARED = "tamper lock cleared"  # a security event (appliance/audit/security.py EVENTS)


class TamperLock:
    """The data-access lock in `folder` (the store folder)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE

    def state(self) -> dict[str, Any] | None:
        """The lock's details ({"since", "record", "device"}), or None when data access is open."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return {"since": "unknown", "record": "", "device": "", "error": f"lock file unreadable: {exc}"}
        try:
            value = json.loads(text)
            if not isinstance(value, dict):
                raise ValueError("not an object")
            return value
        except ValueError as exc:
            return {"since": "unknown", "record": "", "device": "", "error": f"lock file corrupt: {exc}"}

    @property
    def locked(self) -> bool:
        return self.state() is not None

    def lock(self, at: datetime, record_id: str, device: str) -> None:
        """Set the lock (atomically: a reader never sees half a file)."""
        replace_file(self.path, json.dumps({"since": to_rfc3339(at), "record": record_id, "device": device}))

    def clear(self, store: Any, username: str, client: str, *, agency: str = "", reason: str = "",
              at: datetime | None = None) -> str:
        """An administrator clears the lock: the record first (refused if it cannot be written), then the file.

        Returns the clearing record's id; ValueError when there is no lock to clear.
        """
        from appliance.audit import security
        state = self.state()
        if state is None:
            raise ValueError("data access is not locked: there is nothing to clear")
        rec = security.event(store, CLEARED, username, client, agency=agency, at=at or datetime.now(timezone.utc),
                             locked_since=state.get("since"), door_record=state.get("record"), reason=reason)
        self.path.unlink(missing_ok=True)
        log.warning("tamper lock cleared by %s", username)
        return rec.id


class DoorHandler:
    """The IoBoard's tamper callback: alert, record, optional lock.

    `alert(event)` is the pole's alert sink (relay pulse, LED ALERT); `store` takes the access
    record; `lock` is None unless `tamper.lock_on_door` is on. A record that cannot be written
    still leaves the alert and the lock in place: losing the evidence must not also open access.
    """

    def __init__(self, store: Any, device_id: str, *, alert: Callable[[Any], None] | None = None,
                 lock: TamperLock | None = None, agency: str = "") -> None:
        self.store, self.device_id, self.alert, self.lock, self.agency = store, device_id, alert, lock, agency
        self.opened = 0

    def __call__(self, event: Any) -> None:
        from appliance.audit import security
        log.warning("enclosure door %s", "opened" if event.opened else "closed")
        if event.opened:
            self.opened += 1
            if self.alert is not None:
                self.alert(event)
        record_id = ""
        try:  # a "tamper" security event (LG-6), plus whether data access was locked
            record_id = security.event(self.store, "tamper", self.device_id, "enclosure", at=event.utc,
                                       agency=self.agency, door="opened" if event.opened else "closed",
                                       clock_synced=bool(event.clock_synced),
                                       lock=bool(self.lock is not None and event.opened)).id
        except Exception:
            log.exception("could not write the tamper security event to the access records")
        if event.opened and self.lock is not None:
            self.lock.lock(event.utc, record_id, self.device_id)
