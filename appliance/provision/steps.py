"""The provisioning steps, in order; each returns a Check and changes nothing when `ctx.dry_run`.

Each step checks its own prerequisites, so a run forced past one failure still does every
other step it can. Features that later issues deliver (hub enrolment, hub-bound store
key, the live test read) report themselves as such: never as done.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher

from appliance import training, users
from appliance.config import Config, SECTIONS, build, check_value, config_fields, load_config
from appliance.errors import AccountError, ConfigError
from appliance.passwords import check_password
from appliance.provision.answers import Answers, training_dates
from appliance.provision.certs import certificate_fingerprint, load_or_make_key, make_csr, public_key_fingerprint, write_csr
from appliance.provision.checks import Check, Layout, failed, ok, skipped
from appliance.serve import CERT_NAME, KEY_NAME, ensure_self_signed
from appliance.store import Store
from appliance.store.admin import DB_NAME
from appliance.store.keys import LocalKeyFile

log = logging.getLogger(__name__)

ACTOR = "provision"
PASSWORD_BYTES = 18  # 24 URL-safe characters, as `alpr user create` generates


@dataclass
class Secrets:
    """What is shown once on the terminal and never written: the administrator's password and TOTP key."""

    username: str = ""
    password: str = ""
    totp_secret: str = ""


@dataclass
class Context:
    """What the steps share: the answers, where to write, and what earlier steps produced."""

    answers: Answers
    layout: Layout
    dry_run: bool
    now: datetime
    config: Config
    config_problems: list[str]
    hasher: PasswordHasher | None = None
    secrets: Secrets = field(default_factory=Secrets)
    _store: Store | None = None

    @property
    def store_folder(self) -> Path:
        return self.layout.store_folder(self.config.store.path)

    def store(self) -> Store:
        """The store, opened once with the provisioned key (only when not a dry run)."""
        if self._store is None:
            self._store = Store.open(self.store_folder, keys=LocalKeyFile(self.layout.store_key))
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


Step = Callable[[Context], Check]


def lenient_config(doc: dict[str, dict[str, Any]]) -> tuple[Config, list[str]]:
    """(the config, its problems): with problems, the valid fields are kept and the rest defaulted.

    The other steps need a store path and web host even when a forced run writes a config
    with a bad latitude; they get what was valid rather than nothing.
    """
    try:
        return build(doc, {}, source="answers"), []
    except ConfigError as exc:
        problems = exc.errors
    infos = {i.key: i for i in config_fields()}
    kept: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        for key, value in table.items():
            info = infos.get(f"{section}.{key}")
            try:
                if info is not None:
                    check_value(info, value)
                    kept.setdefault(section, {})[key] = value
            except ValueError:
                continue
    try:
        return build(kept, {}, source="answers"), problems
    except ConfigError:  # a cross-field rule still fails: fall back to the defaults
        return Config(), problems


def config_file(ctx: Context) -> Check:
    """Write /etc/alpr/alpr.toml from the answers and read it back through the config check."""
    name, path = "config file", ctx.layout.config_file
    if "id" not in ctx.answers.config.get("device", {}):
        ctx.config_problems = [*ctx.config_problems, "device.id is missing: every device needs its own id"]
    problems = ctx.config_problems
    if ctx.dry_run:
        if problems:
            return failed(name, "; ".join(problems), path=str(path))
        return ok(name, f"would write {path}", path=str(path))
    text = to_toml(ctx.answers.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)  # no secret goes in the config (STYLE 8); the service must read it
    os.replace(tmp, path)
    if problems:
        return failed(name, f"written with {len(problems)} problem(s), fix them and run `alpr config check "
                            f"{path}`: " + "; ".join(problems), path=str(path))
    load_config(path, {})  # what `alpr run` will read must pass the same check
    return ok(name, f"wrote {path}; it passes the config check", path=str(path))


def store_key(ctx: Context) -> Check:
    """Make the store's master key (local mode), or keep the one there; never replace a key."""
    name, path = "store master key", ctx.layout.store_key
    if ctx.answers.key_mode == "hub":
        return failed(name, "the hub-bound store key is not built yet (issue 6); use keys.mode = \"local\"")
    keys = LocalKeyFile(path)
    if keys.exists():
        keys.load()  # mode and length are checked here
        return ok(name, f"kept the existing key {path}", mode="local", path=str(path))
    db = ctx.store_folder / DB_NAME
    if db.exists() and db.stat().st_size > 0:
        return failed(name, f"the store {ctx.store_folder} holds data but its key {path} is missing: restore that "
                            "key (a new key cannot open old data) or wipe the store")
    if ctx.dry_run:
        return ok(name, f"would create {path} (mode 0600)", mode="local", path=str(path))
    keys.load(create=True)
    return ok(name, f"created {path} (mode 0600)", mode="local", path=str(path))


def device_key(ctx: Context) -> Check:
    """The device's EC P-256 key (0600, made here) and its certificate request (0644)."""
    name = "device key and CSR"
    device_id = ctx.answers.config.get("device", {}).get("id")
    if not isinstance(device_id, str) or device_id != ctx.config.device.id:
        return failed(name, f"no valid device.id to name the certificate after (got {device_id!r}); "
                            "see the config file check")
    key_path, csr_path = ctx.layout.device_key, ctx.layout.device_csr
    if ctx.dry_run:
        verb = "would reuse" if key_path.exists() else "would make"
        return ok(name, f"{verb} {key_path} and write {csr_path} (CN={device_id})")
    key, made = load_or_make_key(key_path)
    write_csr(make_csr(key, device_id), csr_path)
    fp = public_key_fingerprint(key.public_key())
    return ok(name, f"{'made' if made else 'reused'} {key_path} (0600); request {csr_path} (CN={device_id})",
              device_key_sha256=fp, csr=str(csr_path))


def enrolment(ctx: Context) -> Check:
    """Enrolment with the hub is issue 6: say so, never pretend."""
    csr = ctx.layout.device_csr
    if not ctx.config.hub.url:
        return skipped("hub enrolment", f"no hub URL given: not enrolled; the request waits in {csr}")
    return skipped("hub enrolment", f"enrolment needs the hub link (issue 6): {ctx.config.hub.url} was not "
                                    f"contacted; the request waits in {csr}", hub=ctx.config.hub.url)


def ui_certificate(ctx: Context) -> Check:
    """The web UI's TLS certificate where `alpr serve` looks for it (self-signed, EC P-256)."""
    name, folder = "web UI certificate", ctx.layout.tls_folder(ctx.config.store.path)
    if not ctx.config.web.tls:
        return skipped(name, "web.tls = false (loopback only): no certificate needed")
    cert = folder / CERT_NAME
    if ctx.dry_run:
        return ok(name, f"{'would reuse' if cert.exists() else 'would make'} {cert}")
    existed = cert.exists() and (folder / KEY_NAME).exists()
    cert, _ = ensure_self_signed(folder, ctx.config.web.host)
    return ok(name, f"{'reused' if existed else 'made'} self-signed {cert}; check its fingerprint in the browser",
              ui_certificate_sha256=certificate_fingerprint(cert), certificate=str(cert))


def administrator(ctx: Context) -> Check:
    """The first administrator, with a generated password and an enrolled TOTP key (POLICY AC-4, AC-9)."""
    name, username = "first administrator", ctx.answers.admin_username.strip().lower()
    if not users._USERNAME.fullmatch(username):  # the rule create_user applies, checked before anything changes
        return failed(name, "admin.username must be 2-64 characters of a-z, 0-9, '.', '_' or '-', starting "
                            f"with a letter or digit; got {ctx.answers.admin_username!r}")
    if ctx.answers.key_mode != "local":
        return failed(name, "the store cannot be opened without its key (see the store master key check)")
    if ctx.dry_run:
        return ok(name, f"would create administrator {username} with a password and TOTP key shown once")
    store = ctx.store()
    if users.find_user(store, username) is not None:
        return failed(name, f"a user named {username!r} exists already; choose another name or reset that "
                            "account's password with the web UI")
    password = _new_password(username)
    user = users.create_user(store, username, password, "administrator", hasher=ctx.hasher, actor=ACTOR, now=ctx.now)
    secret = pyotp.random_base32()
    from appliance.totp import enrol_with_secret
    enrol_with_secret(store, user.id, secret, actor=ACTOR, now=ctx.now)
    ctx.secrets = Secrets(username, password, secret)
    return ok(name, f"created administrator {username}; second factor enrolled; password and TOTP key shown "
                    "once on the terminal", username=username, mfa_enrolled=True)


def training_record(ctx: Context) -> Check:
    """The administrator's current training record, when the answers hold one (POLICY TR-1)."""
    name, username = "administrator training", ctx.answers.admin_username.strip().lower()
    t = ctx.answers.training
    if t is None:
        return skipped(name, f"no training record in the answers: {username or 'the administrator'} must have "
                             "a current training record (alpr user train) before viewing data")
    course, version = str(t.get("course", "")).strip(), str(t.get("version", "")).strip()
    if not course or not version:
        return failed(name, "admin.training needs course and version")
    try:
        completed, expires = training_dates(t)
    except ValueError as exc:
        return failed(name, str(exc))
    today = ctx.now.date()
    if completed > today or expires < today:
        return failed(name, f"the training record is not current on {today} (completed {completed}, expires "
                            f"{expires}): enter a course passed and still valid")
    if ctx.dry_run:
        return ok(name, f"would record {course} {version}, valid until {expires}")
    if ctx.secrets.username != username:
        return failed(name, "the administrator was not created, so the training record cannot be entered")
    training.add_record(ctx.store(), username, course, version, completed, expires, actor=ACTOR, now=ctx.now)
    return ok(name, f"recorded {course} {version}, valid until {expires}", course=course, version=version,
              expires=expires.isoformat())


def policy_version(ctx: Context) -> Check:
    """The version of the agency's usage and privacy policy this device runs under (POLICY TP-1)."""
    version = ctx.answers.policy_version.strip()
    if not version:
        return failed("usage and privacy policy", "policy.version is missing: give the version of the agency's "
                                                  "usage and privacy policy the device is installed under")
    return ok("usage and privacy policy", f"version {version}", version=version)


def exposure(ctx: Context) -> Check:
    """The shutter that freezes traffic at the site's speed limit (firmware/camera/exposure.py)."""
    from firmware.camera.base import CameraConfigError
    from firmware.camera.exposure import check_gain, choose_shutter_us
    inst, name = ctx.answers.install, "camera exposure"
    if "speed_limit_mph" not in inst:
        return skipped(name, "no install.speed_limit_mph given: the shutter was not checked against traffic speed")
    try:
        shutter = choose_shutter_us(inst["speed_limit_mph"], inst.get("shutter_us"))
        gain = check_gain(inst["gain"]) if "gain" in inst else None
    except CameraConfigError as exc:
        return failed(name, str(exc))
    return ok(name, f"shutter {shutter} us freezes {inst['speed_limit_mph']:g} mph traffic",
              shutter_us=shutter, speed_limit_mph=inst["speed_limit_mph"], **({"gain": gain} if gain else {}))


def live_camera(ctx: Context) -> Check:
    """A frame from the real camera and a test read: not built yet."""
    return skipped("camera and test read", "not built yet (issue 12): a live frame, plate size and a test read "
                                           "need the install checks with the camera on site")


STEPS: tuple[Step, ...] = (config_file, store_key, device_key, enrolment, ui_certificate, administrator,
                           training_record, policy_version, exposure, live_camera)


def to_toml(doc: dict[str, dict[str, Any]]) -> str:
    """The config sections as TOML (scalars only, which is all the config holds), in the config's order."""
    lines = ["# Written by `alpr provision`; check it with `alpr config check` after editing.", ""]
    for section in [s for s in SECTIONS if s in doc] + [s for s in doc if s not in SECTIONS]:
        lines.append(f"[{_toml_key(section)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc[section].items()]
        lines.append("")
    return "\n".join(lines)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # inf and nan are TOML too; the config check refuses them
    return json.dumps(str(value), ensure_ascii=False)  # JSON's escapes are valid in a TOML basic string


def _new_password(username: str) -> str:
    while True:  # a random 24-character password passes at once; the loop guards the rare repeat
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        try:
            check_password(password, username=username)
            return password
        except AccountError:
            continue
