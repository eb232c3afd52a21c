"""The appliance's one strict, typed configuration tree: a TOML file plus ALPR_* overrides.

Strict because a typo in a pole-mounted device's config would otherwise be silently
ignored for months: every unknown key, bad value and secret-looking key is an error, and
all of them are reported at once so one edit fixes them all. Each field carries its own
description; docs/configuration.md and docs/alpr.sample.toml are checked against them.

Environment overrides (for systemd `Environment=` lines and tests):
`ALPR_<SECTION>__<FIELD>=value`, a double underscore between section and field, e.g.
`ALPR_CAMERA__FPS=15`. Names are matched case-insensitively; the value is parsed by the
field's type (booleans: true/false, 1/0, yes/no, on/off; an empty value unsets an
optional field). An override beats the file. Other ALPR_ names that look like overrides
(a double underscore, or a section name followed by one underscore) are errors; the rest
(e.g. ALPR_LOG_LEVEL) are left alone for whoever reads them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (JetPack 6) has no tomllib; tomli is the same parser
    import tomli as tomllib  # type: ignore[no-redef]

from appliance.errors import ConfigError
from appliance.net import is_loopback

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("/etc/alpr/alpr.toml")
ENV_PREFIX = "ALPR_"
BACKENDS = ("picamera2", "jetson", "opencv", "replay")
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
# A key holding a secret: these anywhere in its name, or "key"/"pass" as a whole word
# (so keep_frame, monkey or compass pass).
_SECRET_PARTS = ("password", "passwd", "passphrase", "secret", "token", "credential", "apikey", "privkey")
_SECRET_WORDS = {"key", "keys", "keyfile", "pass", "pwd"}
SECRETS_GO = ("put it in a file readable only by the alpr user (mode 0600) or a systemd credential "
              "(LoadCredentialEncrypted=, read from $CREDENTIALS_DIRECTORY)")


def setting(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
            choices: tuple[str, ...] | None = None, pattern: str | None = None, rule: str = "",
            valid: Callable[[Any], str | None] | None = None) -> Any:
    """A config field with its description and the limits that validation enforces.

    `valid` checks what type and range cannot; it returns what is wrong ("must ...") or None.
    """
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices, "pattern": pattern, "rule": rule, "valid": valid}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DeviceConfig:
    id: str = setting("alpr-1", "this appliance's name in reads, alerts and hub records", pattern=_NAME, rule=_NAME_RULE)
    site_name: str = setting("", "human-readable place, shown in the web UI and sent to the hub")


@dataclass(frozen=True)
class LocationConfig:
    lat: float | None = setting(None, "latitude of the camera in decimal degrees (WGS 84)", lo=-90, hi=90)
    lon: float | None = setting(None, "longitude of the camera in decimal degrees (WGS 84)", lo=-180, hi=180)
    heading_deg: float | None = setting(None, "direction the camera faces, degrees clockwise from north", lo=0, hi=360)


@dataclass(frozen=True)
class CameraConfig:
    backend: str = setting("opencv", "which camera driver delivers frames", choices=BACKENDS)
    source: str = setting("0", "where frames come from: a camera number (picamera2, opencv), an RTSP/HTTP URL "
                          "(opencv), a URI such as csi://0 (jetson), or a file or folder (replay)",
                          valid=lambda v: None if v else "must not be empty: name the camera number, URL, URI, "
                                                        "file or folder")
    width: int = setting(1920, "frame width in pixels", lo=64, hi=8192)
    height: int = setting(1080, "frame height in pixels", lo=64, hi=8192)
    fps: int = setting(15, "frames per second asked of the camera", lo=1, hi=120)
    loop: bool = setting(False, "replay only: start the source again when it ends")
    camera_id: str = setting("cam0", "this camera's name in frames and reads", pattern=_NAME, rule=_NAME_RULE)


@dataclass(frozen=True)
class RecognitionConfig:
    threads: int = setting(1, "onnxruntime threads per model; 1 leaves the other cores to capture and the web UI",
                           lo=1, hi=16)
    workers: int = setting(1, "frames recognised at the same time", lo=1, hi=8)
    min_confidence: float = setting(0.1, "plate readings less confident than this are treated as illegible", lo=0, hi=1)
    detector_threshold: float = setting(0.4, "plate-detector score a candidate plate needs", lo=0.01, hi=0.99)
    weak_threshold: float = setting(0.1, "weaker detector peaks down to this score are read too and kept only when "
                                    "the read is a sure plate (small, dim plates); equal to detector_threshold "
                                    "turns this off and saves their reads", lo=0.01, hi=0.99)


@dataclass(frozen=True)
class TrackerConfig:
    max_gap_s: float = setting(1.5, "a vehicle's track ends when its plate is unseen this many seconds", lo=0.1, hi=60)
    reread_interval_s: float = setting(300.0, "a plate that stays in view (a parked car) is read again no more "
                                       "often than this many seconds; 0 never reads it again", lo=0, hi=86400)
    min_frames: int = setting(2, "a track seen in fewer frames than this is dropped unless its confidence "
                              "reaches min_confidence", lo=1, hi=100)
    min_confidence: float = setting(0.6, "a track seen in fewer than min_frames frames still counts as a read "
                                    "when its confidence reaches this", lo=0, hi=1)
    frame_max_width: int = setting(640, "width in pixels the full frame stored with each read is scaled down to",
                                   lo=16, hi=8192)


@dataclass(frozen=True)
class StoreConfig:
    path: Path = setting(Path("/var/lib/alpr/store"), "data folder for the encrypted database and images (absolute)")
    retention_non_hit_days: float = setting(30, "days a non-hit read stays on the device after the hub confirmed "
                                            "receipt (POLICY RT-1); nothing the hub has not confirmed is purged", lo=0, hi=36500)
    retention_image_days: float = setting(30, "days the images of a non-hit read stay after the hub confirmed it; "
                                          "less than retention_non_hit_days deletes images first and keeps the metadata", lo=0, hi=36500)
    retention_hit_days: float = setting(365, "days a hit (hotlist match) and its images stay after the hub confirmed it",
                                        lo=0, hi=36500)
    retention_access_days: float = setting(730, "days access records stay on the device once the hub has them "
                                           "(POLICY LG-5); purging leaves a signed anchor so the chain verifies",
                                           lo=0, hi=36500)
    capacity_high_percent: float = setting(90, "disk use (percent) at which images of non-hit reads are deleted, "
                                           "oldest first, and an alarm is raised; metadata is never deleted", lo=50, hi=99)
    capacity_low_percent: float = setting(85, "disk use (percent) the capacity purge deletes images down to; "
                                          "must be below capacity_high_percent", lo=10, hi=98)
    keep_frame: bool = setting(True, "keep each non-hit read's full frame beside its plate crop; false keeps only "
                               "the crop (hits always keep their frame)")
    unlock: str = setting("local", "where the store's master key comes from: local (a key file) or hub (wrapped "
                          "with a secret the hub hands this device over mutual TLS, kept in memory; POLICY DS-5)",
                          choices=("local", "hub"))


@dataclass(frozen=True)
class WebConfig:
    host: str = setting("0.0.0.0", "address the web UI and hub API listen on")
    port: int = setting(8443, "TCP port of the web UI and hub API", lo=1, hi=65535)
    tls: bool = setting(True, "serve HTTPS; false is allowed only on a loopback host")
    client_ca: Path | None = setting(None, "PEM file of the CA whose client certificates hub clients use on the "
                                     "pull API (each also registered: alpr hub cert add); unset = none asked for")
    policy_file: str = setting("", "the agency's usage and privacy policy (Markdown, first line 'Version: ...') "
                               "shown at /policy (POLICY TP-1); empty = the shipped default")
    working_hours: str = setting("07-19", "working hours (start-end, whole hours, local to time_zone); the audit "
                                 "report flags searches outside them (POLICY AR-1)", valid=lambda v: _hours(v))
    time_zone: str = setting("UTC", "the agency's IANA time zone (e.g. America/Los_Angeles) for working_hours",
                             valid=lambda v: _zone(v))


def _hours(v: str) -> str | None:
    from appliance.audit.report import hours_problem  # the report owns the format
    return hours_problem(v)


def _zone(v: str) -> str | None:
    from appliance.audit.report import zone_problem
    return zone_problem(v)


@dataclass(frozen=True)
class HubConfig:
    url: str = setting("", "agency hub base URL (https://...); empty means no hub", valid=lambda v: _hub_url(v))
    push_interval_s: float = setting(10.0, "seconds between pushes of the outbox to the hub", lo=1, hi=3600)
    hotlist_refresh_s: float = setting(300.0, "seconds between fetches of the hotlists from the hub "
                                       "(GET {hub}/api/v1/hotlists, also at start-up)", lo=10, hi=86400)
    heartbeat_interval_s: float = setting(60.0, "seconds between heartbeats (health) to the hub", lo=5, hi=3600)
    pull_rate_per_minute: float = setting(600.0, "pull API requests a hub client (token) may make per minute "
                                          "before it is answered 429", lo=1, hi=1000000)
    pull_burst: int = setting(60, "pull API requests a hub client may make at once, above the per-minute rate",
                              lo=1, hi=100000)
    ca_file: Path | None = setting(None, "PEM file of the hub's CA: the only CA trusted for the hub (pinned); "
                                   "unset = the system's CAs")
    client_cert: Path | None = setting(None, "PEM device certificate for mutual TLS with the hub (with "
                                       "client_private_pem)")
    client_private_pem: Path | None = setting(None, "PEM private key file of client_cert (mode 0600); the path only")
    bearer_file: Path | None = setting(None, "file (mode 0600) holding the bearer token for the hub; unset = "
                                       "$CREDENTIALS_DIRECTORY/hub-token if present, else none")


_PIN = {"lo": 0, "hi": 1023}  # BCM numbers (gpiozero), header pins 1-40 (jetson), line offsets (gpiod)


@dataclass(frozen=True)
class IoConfig:
    backend: str = setting("none", "pin driver for the illuminator, LED, relay and inputs; none drives no pins",
                           choices=("none", "gpiozero", "jetson", "gpiod", "simulated"))
    gpiod_chip: str = setting("/dev/gpiochip0", "gpiod backend only: the GPIO chip whose line offsets the pins "
                              "name (`gpiodetect`, `gpioinfo` list them)",
                              valid=lambda v: None if v.startswith("/dev/gpiochip") else
                              "must be a GPIO chip device such as /dev/gpiochip0")
    ir_cut: int | None = setting(None, "output pin of the IR-cut filter (high = filter in, by day); unset = none",
                                 **_PIN)
    trigger_gates_recognition: bool = setting(False, "true: only frames of a trigger (loop detector) burst go "
                                              "to recognition; false: every frame does and bursts are counted")
    ir_illuminator: int | None = setting(None, "output pin of the infrared illuminator; unset = none", **_PIN)
    status_led: int | None = setting(None, "output pin of the status LED; unset = none", **_PIN)
    alert_relay: int | None = setting(None, "output pin of the alert relay; unset = none", **_PIN)
    tamper_switch: int | None = setting(None, "input pin of the enclosure tamper switch; unset = none", **_PIN)
    loop_detector: int | None = setting(None, "input pin of the road loop detector; unset = none", **_PIN)


@dataclass(frozen=True)
class TamperConfig:
    lock_on_door: bool = setting(False, "true: an opened enclosure door locks access to plate data in the web UI "
                                 "until an administrator clears it on the health page")
    check_every_frames: int = setting(15, "camera tamper and day/night checks run on every N-th frame", lo=1, hi=1000)


@dataclass(frozen=True)
class UpdateConfig:
    root: Path = setting(Path("/opt/alpr"), "folder holding releases/, the current and previous links of "
                         "`alpr update` (absolute)")
    trusted_signer: Path = setting(Path("/etc/alpr/update-signer.pem"), "PEM public key (Ed25519) whose "
                                   "signature an update bundle must carry")
    health_file: Path = setting(Path("/run/alpr/health.json"), "file the running device process rewrites while "
                                "frames flow; `alpr update` waits for the new version to appear in it")
    health_timeout_s: float = setting(180.0, "seconds a new version has to report healthy before `alpr update` "
                                      "rolls back", lo=5, hi=3600)
    restart_command: str = setting("systemctl restart alpr-run.service alpr-serve.service",
                                   "command (split on spaces) that restarts the device services after a switch")


@dataclass(frozen=True)
class Config:
    """The whole configuration; `Config()` is the defaults."""

    device: DeviceConfig = field(default_factory=DeviceConfig)
    location: LocationConfig = field(default_factory=LocationConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    web: WebConfig = field(default_factory=WebConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    io: IoConfig = field(default_factory=IoConfig)
    tamper: TamperConfig = field(default_factory=TamperConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)


SECTIONS: dict[str, type] = {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]


@dataclass(frozen=True)
class FieldInfo:
    """One field as the docs show it: dotted key, type, default and description."""

    key: str
    type: type  # str, int, float, bool or Path
    optional: bool
    default: Any
    doc: str
    meta: Mapping[str, Any]


def config_fields() -> list[FieldInfo]:
    """Every config field in file order; the docs and validation both walk this list."""
    out = []
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            args = [a for a in typing.get_args(hints[f.name]) if a is not type(None)]
            kind = args[0] if args else hints[f.name]
            out.append(FieldInfo(f"{section}.{f.name}", kind, bool(args), f.default, f.metadata["doc"], f.metadata))
    return out


def allowed(info: FieldInfo) -> str:
    """What a field accepts, in the words an error message uses."""
    m = info.meta
    if m["choices"]:
        return "one of " + ", ".join(m["choices"])
    if info.type is bool:
        return "true or false"
    if info.type in (int, float):
        return ("an integer" if info.type is int else "a number") + f" between {m['lo']:g} and {m['hi']:g}"
    if info.type is Path:
        return "an absolute path"
    return f"a string of {m['rule']}" if m["rule"] else "a string"


def check_value(info: FieldInfo, value: Any) -> Any:
    """The value in the field's type; raises ValueError saying what is allowed."""
    m, ok = info.meta, False
    if value is None and info.optional:  # only an empty override gives None; TOML has no null
        return None
    if info.type is bool:
        ok = isinstance(value, bool)
    elif info.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and m["lo"] <= value <= m["hi"]
    elif info.type is float:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              and m["lo"] <= value <= m["hi"])
        value = float(value) if ok else value
    elif info.type is Path:
        ok = isinstance(value, str) and Path(value).is_absolute()
        value = Path(value) if ok else value
    elif isinstance(value, str):
        ok = ((not m["choices"] or value in m["choices"])
              and (not m["pattern"] or re.fullmatch(m["pattern"], value) is not None))
    if not ok:
        raise ValueError(f"{info.key} must be {allowed(info)}; got {value!r}")
    problem = m["valid"](value) if m["valid"] else None
    if problem:
        raise ValueError(f"{info.key} {problem}")
    return value


def parse_env_value(info: FieldInfo, text: str) -> Any:
    """An override's text in the field's type, or the text itself for check_value to reject."""
    stripped = text.strip()
    if info.optional and stripped == "":
        return None
    if info.type is bool:
        words = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
        return words.get(stripped.lower(), text)
    if info.type is int and re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    if info.type is float:
        try:
            return float(stripped)
        except ValueError:
            return text
    return text


def secret_like(name: str) -> bool:
    """Whether a key's name says it holds a password, token or key."""
    low = name.lower()
    return any(p in low for p in _SECRET_PARTS) or bool(_SECRET_WORDS & set(re.split(r"[^a-z0-9]+", low)))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None


def _file_values(doc: Mapping[str, Any], by_key: Mapping[str, FieldInfo], errors: list[str]) -> dict[str, Any]:
    """Flatten the TOML document to {dotted key: raw value}, noting unknown and secret keys."""
    values: dict[str, Any] = {}
    for section, table in doc.items():
        if secret_like(section):
            errors.append(f"{section} looks like a secret; secrets never go in the config file: {SECRETS_GO}")
        elif section not in SECTIONS:
            what = f"section [{section}]" if isinstance(table, dict) else f"top-level key {section}"
            errors.append(f"unknown {what}; the file holds only the sections {', '.join(SECTIONS)}")
        elif not isinstance(table, dict):
            errors.append(f"{section} must be a table ([{section}]); got {table!r}")
        else:
            names = [k.split(".", 1)[1] for k in by_key if k.startswith(section + ".")]
            for name, value in table.items():
                key = f"{section}.{name}"
                if secret_like(name) and key not in by_key:
                    errors.append(f"{key} looks like a secret; secrets never go in the config file: {SECRETS_GO}")
                elif key not in by_key:
                    errors.append(f"unknown key {key}; allowed keys in [{section}]: {', '.join(names)}")
                else:
                    values[key] = value
    return values


def _env_values(env: Mapping[str, str], by_key: Mapping[str, FieldInfo], errors: list[str]) -> dict[str, Any]:
    """The ALPR_<SECTION>__<FIELD> overrides as {dotted key: typed value}."""
    values: dict[str, Any] = {}
    for name in sorted(env):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if "__" not in rest:
            section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
            if section is not None:  # a single underscore: almost surely a mistyped override
                fld = rest[len(section) + 1:]
                hint = (f"ALPR_{section.upper()}__{fld.upper()}" if f"{section}.{fld}" in by_key
                        else f"ALPR_{section.upper()}__<FIELD>")
                errors.append(f"{name} is not an override; overrides use a double underscore: {hint}")
            continue
        key = rest.replace("__", ".", 1)
        if secret_like(rest):
            errors.append(f"{name} looks like a secret; secrets never go in ALPR_ overrides: {SECRETS_GO}")
        elif key not in by_key:
            section = key.split(".", 1)[0]
            names = [k for k in by_key if k.startswith(section + ".")]
            errors.append(f"{name} overrides unknown key {key}; " + (f"allowed keys in [{section}]: {', '.join(names)}"
                          if names else f"allowed sections: {', '.join(SECTIONS)}"))
        elif key in values:
            errors.append(f"{values[key][0]} and {name} both set {key}; keep one")
        else:
            values[key] = (name, parse_env_value(by_key[key], env[name]))
    return values


def _cross_checks(c: dict[str, Any], errors: list[str]) -> None:
    """Rules that tie fields together; each only runs when its fields were valid on their own."""
    backend = c.get("camera.backend")
    if backend and backend != "replay" and c.get("camera.loop") is True:
        errors.append(f"camera.loop applies only to camera.backend = 'replay'; backend is {backend!r}")
    if backend == "picamera2" and isinstance(c.get("camera.source"), str) and not c["camera.source"].isdigit():
        errors.append(f"camera.source must be a camera number such as '0' for picamera2; got {c['camera.source']!r}")
    host = c.get("web.host")
    if isinstance(host, str) and c.get("web.tls") is False and not is_loopback(host):
        errors.append(f"web.tls = false is allowed only when web.host is loopback (127.0.0.1, ::1, localhost), "
                      f"because sign-ins cross the network; got web.host {host!r}")
    if c.get("web.client_ca") is not None and c.get("web.tls") is False:
        errors.append("web.client_ca needs web.tls = true: client certificates are part of the TLS handshake")
    pins: dict[int, str] = {}
    for key, value in c.items():
        if key.startswith("io.") and isinstance(value, int) and not isinstance(value, bool):
            if value > 40 and c.get("io.backend") != "gpiod":
                errors.append(f"{key} = {value}: pins above 40 are line offsets, allowed only with io.backend = 'gpiod'")
            if value in pins:
                errors.append(f"{key} and {pins[value]} use the same pin {value}; each device needs its own pin")
            pins.setdefault(value, key)
    hi, lo = c.get("store.capacity_high_percent"), c.get("store.capacity_low_percent")
    if isinstance(hi, (int, float)) and isinstance(lo, (int, float)) and lo >= hi:
        errors.append(f"store.capacity_low_percent ({lo}) must be below store.capacity_high_percent ({hi})")
    if (c.get("hub.client_cert") is None) != (c.get("hub.client_private_pem") is None):
        errors.append("hub.client_cert and hub.client_private_pem go together: give both (mutual TLS) or neither")
    if c.get("store.unlock") == "hub" and not (c.get("hub.url") and c.get("hub.client_cert")):
        errors.append("store.unlock = 'hub' needs hub.url and the device certificate (hub.client_cert, "
                      "hub.client_private_pem): the hub hands the device secret over mutual TLS only")


def _hub_url(url: str) -> str | None:
    """What is wrong with a hub URL, or None; never echoes a URL that carries a password."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.username or parts.password:
        return f"must not carry a user name or password; {SECRETS_GO}"
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))):
        return f"must be an https:// URL (http:// only to a loopback host) or empty for no hub; got {url!r}"
    return None




def build(doc: Mapping[str, Any], env: Mapping[str, str], source: str = "config") -> Config:
    """A Config from a parsed TOML document and the environment; raises ConfigError with every problem."""
    infos = config_fields()
    by_key = {i.key: i for i in infos}
    errors: list[str] = []
    raw = _file_values(doc, by_key, errors)
    overrides = _env_values(env, by_key, errors)
    checked: dict[str, Any] = {}
    for info in infos:
        try:
            if info.key in overrides:
                name, value = overrides[info.key]
                try:
                    checked[info.key] = check_value(info, value)
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
            elif info.key in raw:
                checked[info.key] = check_value(info, raw[info.key])
            else:
                checked[info.key] = info.default
        except ValueError as exc:
            errors.append(str(exc))
    _cross_checks(checked, errors)
    if errors:
        head = f"{source}: {len(errors)} problem{'s' if len(errors) > 1 else ''}"
        raise ConfigError(head + ":\n" + "\n".join(f"  - {e}" for e in errors), errors)
    if overrides:
        log.info("config overrides from the environment: %s", ", ".join(n for n, _ in overrides.values()))
    sections = {s: cls(**{k.split(".", 1)[1]: v for k, v in checked.items() if k.startswith(s + ".")})
                for s, cls in SECTIONS.items()}
    return Config(**sections)


def load_config(path: Path | None, env: Mapping[str, str]) -> Config:
    """The config from `path` (default /etc/alpr/alpr.toml) with ALPR_* overrides from `env`.

    A missing default file means "all defaults" (a fresh device must still start and serve
    its UI so it can be configured); a missing file that was named explicitly is an error.
    """
    explicit = path is not None
    path = Path(path) if explicit else DEFAULT_PATH
    if not explicit and not path.exists():
        log.info("no config file at %s: using defaults", path)
        return build({}, env, source=f"{path} (absent) + environment")
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    return build(_read_file(path), env, source=str(path))
