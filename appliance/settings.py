"""Policy settings an administrator changes in the web UI, overlaid on the config file.

The policy makes some settings an administrator's decision, each change logged (POLICY
RT-1 retention periods, AC-4 the second factor for non-administrators, SH-1 the hub, the
hotlist refresh): those live in the store's `settings` table (schema v9) once changed, and
everything else stays in the config file. `effective_settings(config, store)` is the one
place the rest of the code reads them from: the config with the stored values laid over it.

Which config fields are policy settings is decided by name (`store.retention_*`, any
`*.retention_*`, `hub.url`, the hub's hotlist refresh), so a retention period another
module adds to the config appears on the settings page without a change here. A change is
validated exactly as the config file is (config.check_value) and written together with its
access record ("settings change", old and new value): if the record cannot be written the
setting does not change (LG-4).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from appliance.audit import security
from appliance.config import Config, FieldInfo, check_value, config_fields, parse_env_value
from appliance.errors import ConfigError
from appliance.store import Store
from appliance.store.models import SettingRow
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

MFA_KEY = "accounts.mfa_for_non_administrators"
# Not a config-file field: the policy's default (AC-4) is the second factor for everyone,
# and only an administrator, here, may relax it for non-administrators.
MFA_FIELD = FieldInfo(MFA_KEY, bool, False, True,
                      "ask non-administrators for a TOTP code at sign-in (POLICY AC-4); administrators always are",
                      {"doc": "", "lo": None, "hi": None, "choices": None, "pattern": None, "rule": "", "valid": None})


@dataclass(frozen=True)
class SettingView:
    """One policy setting as the settings page shows it."""

    key: str
    doc: str
    kind: type
    file_value: Any  # from the config file (or its default)
    value: Any  # in effect
    changed_at: str | None = None  # set when the store overrides the file
    changed_by: str | None = None


def is_policy_key(key: str) -> bool:
    """Whether a config field is changed in the UI rather than only in the file."""
    section, _, name = key.partition(".")
    return ("retention" in name or key == "hub.url"
            or (section == "hub" and "hotlist" in name and ("refresh" in name or "interval" in name)))


def policy_fields() -> list[FieldInfo]:
    """The settings the page offers: the config's policy fields, then the second-factor switch."""
    return [i for i in config_fields() if is_policy_key(i.key)] + [MFA_FIELD]


def effective_settings(config: Config, store: Store) -> Config:
    """`config` with the values an administrator stored laid over it (read this, not the file)."""
    sections: dict[str, dict[str, Any]] = {}
    for info, value, _row in _stored(store):
        if info.key == MFA_KEY:
            continue
        section, name = info.key.split(".", 1)
        sections.setdefault(section, {})[name] = value
    for section, values in sections.items():
        config = dataclasses.replace(config, **{section: dataclasses.replace(getattr(config, section), **values)})
    return config


def mfa_required(store: Store, user: Any) -> bool:
    """Whether `user` (a users.User) signs in with a second factor: always for administrators (AC-4)."""
    if user.role == "administrator":
        return True
    return bool(user.mfa_required) and bool(stored_value(store, MFA_KEY, True))


def stored_value(store: Store, key: str, default: Any = None) -> Any:
    """The stored value of one setting, or `default` when it was never changed (or no longer valid)."""
    for info, value, _row in _stored(store):
        if info.key == key:
            return value
    return default


def views(config: Config, store: Store) -> list[SettingView]:
    """Every policy setting: the file's value, the value in effect, who changed it last."""
    stored = {info.key: (value, row) for info, value, row in _stored(store)}
    out = []
    for info in policy_fields():
        file_value = info.default if info.key == MFA_KEY else _config_value(config, info.key)
        value, row = stored.get(info.key, (file_value, None))
        out.append(SettingView(info.key, info.doc, info.type, file_value, value,
                               row.changed_at if row else None, row.changed_by if row else None))
    return out


def change(store: Store, config: Config, key: str, text: str, *, actor: str, client: str = "web UI",
           agency: str = "", now: datetime | None = None) -> tuple[Any, Any] | None:
    """Set one policy setting from the text typed in the form; (old, new), or None when unchanged.

    Raises ConfigError naming the setting and what it accepts. The stored value and its
    access record commit together.
    """
    info = {i.key: i for i in policy_fields()}.get(key)
    if info is None:
        raise ConfigError(f"{key!r} is not a setting changed here; the settings are "
                          f"{', '.join(i.key for i in policy_fields())} (everything else is in the config file)")
    try:
        new = check_value(info, parse_env_value(info, text))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    old = next((v for v in views(config, store) if v.key == key)).value
    if new == old:
        return None
    now = now or datetime.now(timezone.utc)
    with store.database.atomic():
        SettingRow.insert(key=key, value=json.dumps(_plain(new)), changed_at=to_rfc3339(now), changed_by=actor
                          ).on_conflict_replace().execute(store.database)
        security.event(store.database, "settings change", actor, client, at=now, agency=agency,
                       setting=key, old=_plain(old), new=_plain(new))
    log.info("setting %s changed by %s", key, actor)
    return old, new


def _stored(store: Store) -> list[tuple[FieldInfo, Any, SettingRow]]:
    """Stored settings that are still settings and still valid; others are ignored, with a warning."""
    fields = {i.key: i for i in policy_fields()}
    out = []
    for row in SettingRow.select().bind(store.database):
        info = fields.get(row.key)
        try:
            if info is None:
                raise ValueError(f"{row.key} is no longer a setting")
            out.append((info, check_value(info, json.loads(row.value)), row))
        except ValueError as exc:
            log.warning("stored setting ignored, the config file's value applies: %s", exc)
    return out


def _config_value(config: Config, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(config, section), name)


def _plain(value: Any) -> Any:
    """JSON types (a Path becomes its text)."""
    return value if isinstance(value, (bool, int, float, str)) or value is None else str(value)
