"""The provisioning steps, in order; each returns a Check and changes nothing when `ctx.dry_run`.

Each step checks its own prerequisites, so a run forced past one failure still does every
other step it can. Features that later issues deliver (hub enrolment, hub-bound store
key, the live test read) report themselves as such: never as done.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher

from appliance import training, users
from appliance.atomic_file import replace_file
from appliance.config import Config, SECTIONS, build, check_value, config_fields, load_config
from appliance.errors import AccountError, AlprError, ConfigError
from appliance.passwords import check_password
from appliance.provision.answers import Answers, training_dates
from appliance.provision.certs import certificate_fingerprint, load_or_make_key, make_csr, public_key_fingerprint, write_csr
from appliance.provision.checks import DEVICE_CERT, HUB_CA, KEY_FOLDER, Check, Layout, failed, ok, skipped
from appliance.provision.enrol import EnrolmentError, enrol, fetch_pinned_ca, test_connection
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
    replace_file(path, text, mode=0o644)  # no secret goes in the config (STYLE 8); the service must read it
    if problems:
        return failed(name, f"written with {len(problems)} problem(s), fix them and run `alpr config check "
                            f"{path}`: " + "; ".join(problems), path=str(path))
    load_config(path, {})  # what `alpr run` will read must pass the same check
    return ok(name, f"wrote {path}; it passes the config check", path=str(path))


def store_key(ctx: Context) -> Check:
    """Make the store's master key (local mode), or keep the one there; never replace a key."""
    name, path = "store master key", ctx.layout.store_key
    keys = LocalKeyFile(path)  # hub mode starts local too: the last step binds it to the hub
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
    """Enrol with the hub over EST: pin its CA by fingerprint, get the device certificate for the
    one-time token, and prove the path with a mutual-TLS test connection."""
    name, csr, hub = "hub enrolment", ctx.layout.device_csr, ctx.config.hub.url
    if not hub:
        return skipped(name, f"no hub URL given: not enrolled; the request waits in {csr}")
    fingerprint = str(ctx.answers.enrol.get("ca_sha256", "")).strip()
    if not fingerprint:
        return failed(name, "enrol.ca_sha256 (the hub CA's SHA-256 fingerprint, from the hub operator) is "
                            "needed to trust the hub", hub=hub)
    try:
        token = _enrol_token(ctx)
        ca_file = ctx.layout.hub_ca if not ctx.dry_run else ctx.layout.provision_folder / ".hub-ca.check"
        ca = fetch_pinned_ca(hub, fingerprint, ca_file)
        if ctx.dry_run:
            ca_file.unlink(missing_ok=True)
            return ok(name, f"the hub {hub} shows the pinned CA ({ca.subject.rfc4514_string()}); would enrol "
                            "with the one-time token", hub=hub)
        key, _ = load_or_make_key(ctx.layout.device_key)
        cert = enrol(hub, ca_file, key, ctx.config.device.id, token, ctx.layout.device_cert)
        tested = test_connection(hub, ca_file, ctx.layout.device_cert, ctx.layout.device_key)
    except (EnrolmentError, ValueError, OSError) as e:
        return failed(name, str(e), hub=hub)
    return ok(name, f"enrolled: {ctx.layout.device_cert} valid until {cert.not_valid_after_utc:%Y-%m-%d}; {tested}",
              hub=hub, device_certificate_sha256=certificate_fingerprint(ctx.layout.device_cert),
              hub_ca_sha256=certificate_fingerprint(ctx.layout.hub_ca))


def _enrol_token(ctx: Context) -> str:
    """The one-time token: typed at the terminal, or read from enrol.token_file."""
    if ctx.answers.enrol_token:
        return ctx.answers.enrol_token
    token_file = ctx.answers.enrol.get("token_file")
    if not token_file:
        raise ValueError("enrol.token_file (a file holding the hub's one-time enrolment token) is needed to enrol")
    token = Path(str(token_file)).read_text().strip()
    if not token:
        raise ValueError(f"enrol.token_file {token_file} is empty")
    return token


def with_hub_tls(answers: Answers) -> Answers:
    """Answers whose [hub] section points at what enrolment writes (the pinned CA, the device
    certificate and key, as the device sees the paths); values the answers give win."""
    hub = answers.config.get("hub", {})
    if not hub.get("url") or not answers.enrol:
        return answers
    paths = {"ca_file": str(HUB_CA), "client_cert": str(DEVICE_CERT), "client_private_pem": str(KEY_FOLDER / "device.key")}
    config = {**answers.config, "hub": {**paths, **hub}}
    if answers.key_mode == "hub":
        config["store"] = {"unlock": "hub", **answers.config.get("store", {})}
    return dataclasses.replace(answers, config=config)


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
    """The shutter that freezes traffic at the site's speed limit (firmware/install_checks.py)."""
    from firmware.camera.base import CameraConfigError
    from firmware.camera.exposure import check_gain, max_shutter_us
    from firmware.install_checks import shutter_vs_speed
    inst, name = ctx.answers.install, "camera exposure"
    if "speed_limit_mph" not in inst:
        return skipped(name, "no install.speed_limit_mph given: the shutter was not checked against traffic speed")
    try:
        mph = inst["speed_limit_mph"]
        result = shutter_vs_speed(inst.get("shutter_us") or max_shutter_us(mph), mph)
        gain = check_gain(inst["gain"]) if "gain" in inst else None
    except (CameraConfigError, ValueError) as exc:
        return failed(name, str(exc))
    facts = {"shutter_us": int(result.measured), "max_shutter_us": int(result.limit), "speed_limit_mph": mph,
             **({"gain": gain} if gain else {})}
    return (ok if result.passed else failed)(name, result.message, **facts)


def hub_binding(ctx: Context) -> Check:
    """keys.mode = "hub" (POLICY DS-5): wrap the store key under the secret the hub hands this
    device's new certificate, and shred the key file. Last, because the steps before open the
    store with the local key; a failure leaves the local key in place."""
    name = "hub-bound store key"
    if ctx.answers.key_mode != "hub":
        return skipped(name, "keys.mode = \"local\": the key stays in its file")
    cert = ctx.layout.device_cert
    if not ctx.config.hub.url:
        return failed(name, "keys.mode = \"hub\" needs a hub URL and enrolment")
    if ctx.dry_run:
        return ok(name, f"would bind {ctx.layout.store_key} to the hub {ctx.config.hub.url} after enrolment")
    if not cert.is_file():
        return failed(name, "the device is not enrolled (see hub enrolment): the store key stays local")
    from appliance.hub.device_secret import DeviceSecret
    from appliance.hub.tls import hub_session
    from appliance.store.keys import HubBoundKey, bind_to_hub
    ctx.close()  # binding rewrites the key files: nothing may hold the store open
    session = hub_session(ctx.config.hub.url, ca_file=ctx.layout.hub_ca, client_cert=cert,
                          client_key=ctx.layout.device_key)
    hub_key = HubBoundKey(ctx.layout.store_key.with_name(ctx.layout.store_key.name + ".hub"),
                          DeviceSecret(session, ctx.config.hub.url), source=ctx.config.hub.url)
    try:
        path = bind_to_hub(LocalKeyFile(ctx.layout.store_key), hub_key)
    except (AlprError, OSError) as e:
        return failed(name, f"{e}; the store key stays local")
    return ok(name, f"the store key is wrapped under the hub's device secret in {path}; the key file is shredded",
              path=str(path))


LIVE_FRAMES = 30  # frames grabbed for the test read: a few seconds of traffic or the printed target


def live_camera(ctx: Context) -> Check:
    """Frames from the configured camera and a test read: the plate must be read and be at least
    75 px wide (firmware/install_checks.py). Sample crops go in the report folder."""
    name = "camera and test read"
    from appliance.runtime import build_recognizers  # the device's own recognizer (runtime imports provision)
    from firmware.install_checks import plate_pixels_measured
    try:
        frames = _grab_frames(ctx.config, LIVE_FRAMES)
    except Exception as e:  # noqa: BLE001 - any camera failure is this check's finding
        return failed(name, f"no frames from the {ctx.config.camera.backend} camera {ctx.config.camera.source!r}: "
                            f"{e}; check the cable/URL and camera.source")
    if not frames:
        return failed(name, f"the {ctx.config.camera.backend} camera {ctx.config.camera.source!r} delivered no frame "
                            "within 10 s; check the cable/URL, power and camera.source")
    recognizer = build_recognizers(ctx.config)[0]
    texts: list[str] = []

    def find_plates(image):
        plates = recognizer.read_frame(image)
        texts.extend(p.text for p in plates)
        return [p.box for p in plates]

    crops = None if ctx.dry_run else ctx.layout.provision_folder / "crops"
    result = plate_pixels_measured(frames, find_plates, crops_dir=crops)
    facts = {"frames": len(frames), "plate_px": result.measured, "test_reads": sorted(set(texts))[:10],
             "sample_crops": [str(c) for c in result.crops[:5]]}
    if not result.passed:
        return failed(name, result.message, **facts)
    return ok(name, f"{result.message}; read {', '.join(sorted(set(texts))[:5])}", **facts)


def ir_switch(ctx: Context) -> Check:
    """Night mode brightens the picture: the illuminator and the IR-cut filter work
    (firmware/install_checks.py). Asked for with install.check_ir_switch = true, because it
    needs the dark (at night, or the lens shaded): by day the sun swamps the illuminator.
    The two frames it compares go in the report folder."""
    name = "IR switch"
    if not ctx.answers.install.get("check_ir_switch"):
        return skipped(name, "not asked for: set install.check_ir_switch = true and run at night or with the "
                             "lens shaded")
    io = ctx.config.io
    if io.backend == "none" or io.ir_illuminator is None:
        return failed(name, "io.backend and io.ir_illuminator must name the illuminator's pin for this check")
    if ctx.dry_run:
        return ok(name, "would switch night mode off and on and compare the picture")
    from appliance.runtime import open_io
    from firmware.daynight import set_night_mode
    from firmware.install_checks import ir_switch_works

    def grab(camera):
        frames = _read_frames(camera, 1, timeout_s=10.0)
        if not frames:
            raise RuntimeError("the camera delivered no frame within 10 s")
        return frames[0]

    board = None
    try:
        board = open_io(ctx.config)
        with _open_camera(ctx.config) as camera:
            result = ir_switch_works(lambda on: set_night_mode(board.set_illuminator, board.set_ir_cut, on),
                                     lambda: grab(camera), crops_dir=ctx.layout.provision_folder / "ir")
    except Exception as e:  # noqa: BLE001 - any camera or pin failure is this check's finding
        return failed(name, f"could not switch night mode and grab frames: {e}")
    finally:
        if board is not None:
            board.close()
    facts = {"brightness_change": result.measured, "minimum": result.limit, "frames": [str(c) for c in result.crops]}
    return (ok if result.passed else failed)(name, result.message, **facts)


@contextmanager
def _open_camera(cfg: Config) -> Iterator:
    """The configured camera, opened for the block and closed after it."""
    from appliance.runtime import camera_options
    from firmware.camera import make_camera
    camera = make_camera(cfg.camera.backend, **camera_options(cfg))
    camera.open()
    try:
        yield camera
    finally:
        camera.close()


def _read_frames(camera, count: int, timeout_s: float) -> list:
    """Up to `count` frames (images) from an open camera within `timeout_s`."""
    import time
    frames, deadline = [], time.monotonic() + timeout_s
    while len(frames) < count and time.monotonic() < deadline:
        frame = camera.read(timeout=1.0)
        if frame is not None:
            frames.append(frame.image)
    return frames


def _grab_frames(cfg: Config, count: int, timeout_s: float = 10.0) -> list:
    """Up to `count` frames from the configured camera, opened and closed here."""
    with _open_camera(cfg) as camera:
        return _read_frames(camera, count, timeout_s)


STEPS: tuple[Step, ...] = (config_file, store_key, device_key, enrolment, ui_certificate, administrator,
                           training_record, policy_version, exposure, live_camera, ir_switch, hub_binding)


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
