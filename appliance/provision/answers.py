"""The installer's answers: from a TOML answers file or asked one by one at the pole.

An answers file holds config sections exactly as alpr.toml does ([device], [location],
[camera], [hub], ...; they are copied into /etc/alpr/alpr.toml and validated there) plus
the sections only provisioning reads: [admin] (first administrator and, optionally, its
training record), [policy] (the usage and privacy policy version, POLICY TP-1), [keys]
(store key mode) and [install] (speed limit and exposure for the install checks). No
secret goes in it: the administrator's password and TOTP key are generated on the device.

    [device]
    id = "main-and-1st"
    site_name = "Main St & 1st Ave, northbound"
    [location]
    lat = 37.7749
    lon = -122.4194
    heading_deg = 350
    [camera]
    backend = "picamera2"
    source = "0"
    [hub]
    url = "https://hub.agency.example"
    [admin]
    username = "jsmith"
    [admin.training]        # optional; without it the admin must record training first
    course = "ALPR operator"
    version = "2026.1"
    completed = 2026-01-15  # TOML dates (or "YYYY-MM-DD")
    expires = 2027-01-15
    [policy]
    version = "2026.1"
    [keys]
    mode = "local"          # or "hub" (issue 6)
    [enrol]                 # with [hub] url: enrolment over EST (appliance/provision/enrol.py)
    ca_sha256 = "3f:a2:..." # the hub CA certificate's SHA-256 fingerprint (from the hub operator / QR code)
    token_file = "/root/enrol-token"  # the one-time enrolment token, in a file, never in this file
    [install]
    speed_limit_mph = 35
    check_ir_switch = false  # true: switch night mode off and on and see the picture brighten (run in the dark)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from appliance.config import SECTIONS, _read_file
from appliance.errors import ConfigError

Ask = Callable[[str], str]

PROVISION_SECTIONS: dict[str, tuple[str, ...]] = {
    "admin": ("username", "training"),
    "policy": ("version",),
    "keys": ("mode",),
    "install": ("speed_limit_mph", "shutter_us", "gain", "check_ir_switch"),
    "enrol": ("ca_sha256", "token_file"),
}
TRAINING_KEYS = ("course", "version", "completed", "expires")
KEY_MODES = ("local", "hub")


@dataclass(frozen=True)
class Answers:
    """What provisioning was told: `config` is the alpr.toml document, the rest is provisioning's own."""

    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    admin_username: str = ""
    training: dict[str, Any] | None = None
    policy_version: str = ""
    key_mode: str = "local"
    install: dict[str, Any] = field(default_factory=dict)
    enrol: dict[str, Any] = field(default_factory=dict)  # ca_sha256, token_file
    enrol_token: str = ""  # typed at the terminal; held in memory only


def parse_answers(doc: dict[str, Any], source: str = "answers") -> Answers:
    """Answers from a parsed TOML document; ConfigError lists every unknown section or key."""
    errors: list[str] = []
    config: dict[str, dict[str, Any]] = {}
    extra: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        allowed_sections = ", ".join([*SECTIONS, *PROVISION_SECTIONS])
        if not isinstance(table, dict):
            errors.append(f"{section} must be a table ([{section}]); allowed sections: {allowed_sections}")
        elif section in SECTIONS:
            config[section] = dict(table)  # checked by the config step, with the config's own messages
        elif section in PROVISION_SECTIONS:
            known = PROVISION_SECTIONS[section]
            for key in table:
                if key not in known:
                    errors.append(f"unknown key {section}.{key}; allowed keys in [{section}]: {', '.join(known)}")
            extra[section] = dict(table)
        else:
            errors.append(f"unknown section [{section}]; allowed sections: {allowed_sections}")
    training = extra.get("admin", {}).get("training")
    if training is not None:
        if not isinstance(training, dict):
            errors.append("admin.training must be a table ([admin.training]) with course, version, completed, expires")
            training = None
        else:
            for key in training:
                if key not in TRAINING_KEYS:
                    errors.append(f"unknown key admin.training.{key}; allowed: {', '.join(TRAINING_KEYS)}")
    mode = extra.get("keys", {}).get("mode", "local")
    if mode not in KEY_MODES:
        errors.append(f"keys.mode must be one of {', '.join(KEY_MODES)}; got {mode!r}")
    if errors:
        raise ConfigError(f"{source}: {len(errors)} problem{'s' if len(errors) > 1 else ''}:\n"
                          + "\n".join(f"  - {e}" for e in errors), errors)
    return Answers(config=config, admin_username=str(extra.get("admin", {}).get("username", "")),
                   training=dict(training) if training is not None else None,
                   policy_version=str(extra.get("policy", {}).get("version", "")),
                   key_mode=mode, install=dict(extra.get("install", {})), enrol=dict(extra.get("enrol", {})))


def load_answers(path: Path) -> Answers:
    """Answers from a TOML file (ConfigError when it is missing, not TOML, or has unknown keys)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such answers file")
    return parse_answers(_read_file(path), source=str(path))


def ask_answers(ask: Ask) -> Answers:
    """Answers asked one by one through `ask` (the terminal's `input`, or a script in tests).

    Empty answers leave a field at its default; numbers that do not parse are kept as typed
    so the config check names the field and what it allows.
    """
    doc: dict[str, dict[str, Any]] = {}

    def put(section: str, key: str, prompt: str, kind: type = str, default: str = "") -> None:
        text = ask(f"{prompt}{f' [{default}]' if default else ''}: ").strip() or default
        if text:
            doc.setdefault(section, {})[key] = _typed(text, kind)

    put("device", "id", "device id (letters, digits, . _ -; unique in the fleet)")
    put("device", "site_name", "site name")
    put("location", "lat", "latitude (decimal degrees)", float)
    put("location", "lon", "longitude (decimal degrees)", float)
    put("location", "heading_deg", "camera heading (degrees clockwise from north)", float)
    put("camera", "backend", "camera backend (picamera2, jetson, opencv, replay)", default="picamera2")
    put("camera", "source", "camera source (number, URL or path)", default="0")
    put("camera", "width", "frame width in pixels", int, default="1920")
    put("camera", "height", "frame height in pixels", int, default="1080")
    put("camera", "fps", "frames per second", int, default="15")
    put("hub", "url", "hub URL (https://...; empty for none)")
    token = ""
    if doc.get("hub", {}).get("url"):
        put("enrol", "ca_sha256", "hub CA fingerprint (SHA-256, from the hub operator)")
        token = ask("one-time enrolment token (from the hub operator): ").strip()
    put("install", "speed_limit_mph", "speed limit at this site (mph)", float, default="35")
    put("admin", "username", "first administrator's username")
    course = ask("administrator's training course (empty: record it later): ").strip()
    if course:
        doc.setdefault("admin", {})["training"] = {
            "course": course, "version": ask("course version: ").strip(),
            "completed": ask("completed on (YYYY-MM-DD): ").strip(), "expires": ask("expires on (YYYY-MM-DD): ").strip()}
    put("policy", "version", "usage and privacy policy version")
    put("keys", "mode", "store key mode (local, hub)", default="local")
    answers = parse_answers(doc, source="answers typed in")
    return dataclasses.replace(answers, enrol_token=token) if token else answers


def training_dates(training: dict[str, Any]) -> tuple[date, date]:
    """(completed, expires) as dates; ValueError names the field and the form."""
    out = []
    for key in ("completed", "expires"):
        value = training.get(key)
        if isinstance(value, date):
            out.append(value)
            continue
        try:
            out.append(date.fromisoformat(str(value)))
        except ValueError:
            raise ValueError(f"admin.training.{key} must be a date YYYY-MM-DD; got {value!r}") from None
    return out[0], out[1]


def _typed(text: str, kind: type) -> Any:
    try:
        return kind(text) if kind is not str else text
    except ValueError:
        return text
