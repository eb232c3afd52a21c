"""The config tree: defaults, strict validation, env overrides, `alpr config check`, and its docs."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from appliance import config as config_module
from appliance.config import Config, config_fields, load_config, secret_like, tomllib
from appliance.config_command import check, markdown_table
from appliance.errors import AlprError, ConfigError

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "docs" / "alpr.sample.toml"
DOC = REPO / "docs" / "configuration.md"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alpr.toml"
    path.write_text(text)
    return path


def errors_of(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env or {})
    return info.value.errors


def one_error(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> str:
    errors = errors_of(text, tmp_path, env)
    assert len(errors) == 1, errors
    return errors[0]


# --- defaults and files ---------------------------------------------------------------

def test_missing_default_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "DEFAULT_PATH", tmp_path / "absent.toml")
    c = load_config(None, {})
    assert c == Config()
    assert (c.camera.backend, c.camera.fps, c.camera.camera_id) == ("opencv", 15, "cam0")
    assert c.store.path == Path("/var/lib/alpr/store") and c.store.keep_frame is True
    assert c.hub.url == "" and c.io.status_led is None and c.location.lat is None


def test_the_default_path_is_etc_alpr():
    assert config_module.DEFAULT_PATH == Path("/etc/alpr/alpr.toml")


def test_overrides_apply_without_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "DEFAULT_PATH", tmp_path / "absent.toml")
    assert load_config(None, {"ALPR_WEB__PORT": "9000"}).web.port == 9000


def test_default_file_is_read_when_present(tmp_path, monkeypatch):
    monkeypatch.setattr(config_module, "DEFAULT_PATH", write(tmp_path, "[camera]\nfps = 7\n"))
    assert load_config(None, {}).camera.fps == 7


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"absent\.toml: no such config file"):
        load_config(tmp_path / "absent.toml", {})


def test_recognition_defaults_match_the_engine():
    from appliance.recognition.detector import THRESHOLD
    from appliance.recognition.engine import MIN_CONFIDENCE
    assert Config().recognition.min_confidence == MIN_CONFIDENCE
    assert Config().recognition.detector_threshold == THRESHOLD
    from appliance.recognition.weak_detections import WEAK_THRESHOLD
    assert Config().recognition.weak_threshold == WEAK_THRESHOLD


def test_backends_match_the_camera_factory():
    from firmware.camera import BACKENDS
    assert config_module.BACKENDS == tuple(BACKENDS)


def test_tracker_defaults_match_the_tracker():
    import inspect

    from appliance.tracker import Tracker
    params = inspect.signature(Tracker).parameters
    for name, value in vars(Config().tracker).items():
        assert params[name].default == value, name


def test_valid_file(tmp_path):
    c = load_config(write(tmp_path, """
[device]
id = "pole-17"
site_name = "Main St & 3rd"
[location]
lat = 37
lon = -122.4194
heading_deg = 270.5
[camera]
backend = "replay"
source = "/srv/drive-by.mp4"
width = 1280
height = 720
fps = 30
loop = true
camera_id = "north"
[tracker]
reread_interval_s = 600
[store]
path = "/data/alpr"
keep_frame = false
[web]
host = "127.0.0.1"
port = 8080
tls = false
[hub]
url = "https://hub.example.org/agency"
[io]
status_led = 27
alert_relay = 22
"""), {})
    assert c.device == config_module.DeviceConfig(id="pole-17", site_name="Main St & 3rd")
    assert c.location.lat == 37.0 and isinstance(c.location.lat, float) and c.location.heading_deg == 270.5
    assert (c.camera.backend, c.camera.source, c.camera.width, c.camera.loop) == ("replay", "/srv/drive-by.mp4", 1280, True)
    assert c.tracker.reread_interval_s == 600.0 and isinstance(c.tracker.reread_interval_s, float)
    assert c.tracker.max_gap_s == Config().tracker.max_gap_s  # left out: default
    assert c.store.path == Path("/data/alpr") and c.store.keep_frame is False
    assert (c.web.host, c.web.port, c.web.tls) == ("127.0.0.1", 8080, False)
    assert c.hub.url == "https://hub.example.org/agency"
    assert (c.io.status_led, c.io.alert_relay, c.io.tamper_switch) == (27, 22, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.camera.fps = 1  # type: ignore[misc]


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"alpr\.toml: not valid TOML"):
        load_config(write(tmp_path, "[camera\nfps = 1\n"), {})


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, AlprError) and issubclass(ConfigError, ValueError)


# --- strict validation ------------------------------------------------------------------

def test_unknown_key_names_the_dotted_key_and_the_allowed_ones(tmp_path):
    msg = one_error("[camera]\nfsp = 15\n", tmp_path)
    assert "unknown key camera.fsp" in msg
    assert "backend, source, width, height, fps, loop, camera_id" in msg


def test_unknown_section_and_top_level_key(tmp_path):
    errors = errors_of("fps = 15\n[camra]\nfps = 15\n", tmp_path)
    assert any("top-level key fps" in e for e in errors)
    assert any("unknown section [camra]" in e and "camera" in e for e in errors)
    assert one_error("camera = 'pi'\n", tmp_path) == "camera must be a table ([camera]); got 'pi'"


def test_nested_table_is_an_unknown_key(tmp_path):
    assert "unknown key camera.controls" in one_error("[camera.controls]\nexposure = 1\n", tmp_path)


def test_bad_enum(tmp_path):
    assert one_error('[camera]\nbackend = "pi"\n', tmp_path) == \
        "camera.backend must be one of picamera2, jetson, opencv, replay; got 'pi'"


@pytest.mark.parametrize("text, expected", [
    ('[location]\nlat = "abc"\n', "location.lat must be a number between -90 and 90; got 'abc'"),
    ("[location]\nlat = 91\n", "location.lat must be a number between -90 and 90; got 91"),
    ("[location]\nlon = nan\n", "location.lon must be a number between -180 and 180; got nan"),
    ("[camera]\nfps = 0\n", "camera.fps must be an integer between 1 and 120; got 0"),
    ("[web]\nport = 70000\n", "web.port must be an integer between 1 and 65535; got 70000"),
    ("[recognition]\nmin_confidence = 1.5\n", "recognition.min_confidence must be a number between 0 and 1; got 1.5"),
])
def test_bad_number_range(tmp_path, text, expected):
    assert one_error(text, tmp_path) == expected


@pytest.mark.parametrize("text, expected", [
    ('[camera]\nfps = "15"\n', "camera.fps must be an integer between 1 and 120; got '15'"),
    ("[camera]\nfps = 15.0\n", "camera.fps must be an integer between 1 and 120; got 15.0"),
    ("[web]\nport = true\n", "web.port must be an integer between 1 and 65535; got True"),
    ('[web]\ntls = "yes"\n', "web.tls must be true or false; got 'yes'"),
    ("[camera]\nsource = 0\n", "camera.source must be a string; got 0"),
    ('[store]\npath = "data"\n', "store.path must be an absolute path; got 'data'"),
    ('[device]\nid = "pole 17"\n', "device.id must be a string of 1-64 letters, digits, '.', '_' or '-', "
                                    "starting with a letter or digit; got 'pole 17'"),
])
def test_wrong_type(tmp_path, text, expected):
    assert one_error(text, tmp_path) == expected


@pytest.mark.parametrize("text, key", [
    ('[hub]\ntoken = "s3cr3t-value"\n', "hub.token"),
    ('[hub]\napi_key = "s3cr3t-value"\n', "hub.api_key"),
    ('[web]\nadmin_password = "s3cr3t-value"\n', "web.admin_password"),
    ('[camera]\nrtsp_pass = "s3cr3t-value"\n', "camera.rtsp_pass"),
    ('[store]\nkey = "s3cr3t-value"\n', "store.key"),
    ('[secrets]\nstore = "s3cr3t-value"\n', "secrets"),
])
def test_secret_like_keys_are_rejected_without_echoing_them(tmp_path, text, key):
    msg = one_error(text, tmp_path)
    assert msg.startswith(f"{key} looks like a secret; secrets never go in the config file")
    assert "$CREDENTIALS_DIRECTORY" in msg and "0600" in msg
    assert "s3cr3t" not in msg


def test_secret_detection_spares_ordinary_names():
    assert not any(secret_like(f.key.split(".")[1]) for f in config_fields())  # keep_frame among them
    assert not any(secret_like(n) for n in ("monkey", "compass", "hotkeys_enabled", "bypass"))
    assert all(secret_like(n) for n in ("authToken", "client_secret", "ssh-key", "privkey_file", "db_passwd"))


def test_hub_url_rules(tmp_path):
    msg = one_error('[hub]\nurl = "https://alpr:hunter2@hub.example.org"\n', tmp_path)
    assert "must not carry a user name or password" in msg and "hunter2" not in msg
    assert "https://" in one_error('[hub]\nurl = "http://hub.example.org"\n', tmp_path)
    assert "https://" in one_error('[hub]\nurl = "hub.example.org"\n', tmp_path)
    assert load_config(write(tmp_path, '[hub]\nurl = "http://127.0.0.1:9100"\n'), {}).hub.url == "http://127.0.0.1:9100"


def test_rules_between_fields(tmp_path):
    assert "camera.loop applies only to camera.backend = 'replay'" in one_error("[camera]\nloop = true\n", tmp_path)
    assert "camera.source must not be empty" in one_error('[camera]\nsource = ""\n', tmp_path)
    assert "camera number" in one_error('[camera]\nbackend = "picamera2"\nsource = "/dev/video0"\n', tmp_path)
    assert "web.tls = false is allowed only when web.host is loopback" in one_error("[web]\ntls = false\n", tmp_path)
    assert load_config(write(tmp_path, '[web]\ntls = false\nhost = "::1"\n'), {}).web.tls is False
    assert one_error("[io]\nstatus_led = 4\nalert_relay = 4\n", tmp_path) == \
        "io.alert_relay and io.status_led use the same pin 4; each device needs its own pin"


def test_several_errors_are_reported_together(tmp_path):
    errors = errors_of('[camera]\nbackend = "pi"\nfps = 500\ncolour = 1\n[location]\nlat = "abc"\n',
                       tmp_path, {"ALPR_WEB__PORT": "http"})
    assert len(errors) == 5, errors
    for part in ("camera.backend", "camera.fps", "camera.colour", "location.lat", "ALPR_WEB__PORT"):
        assert any(part in e for e in errors), part
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, '[camera]\nbackend = "pi"\nfps = 500\n'), {})
    assert "2 problems" in str(info.value) and "camera.backend" in str(info.value) and "camera.fps" in str(info.value)


# --- environment overrides ------------------------------------------------------------------

def test_env_overrides_beat_the_file(tmp_path):
    path = write(tmp_path, '[camera]\nfps = 10\n[io]\nstatus_led = 4\n[web]\nhost = "127.0.0.1"\n')
    c = load_config(path, {
        "ALPR_CAMERA__FPS": "15", "alpr_camera__width": "1280", "ALPR_WEB__TLS": "off",
        "ALPR_LOCATION__LAT": "-33.9", "ALPR_IO__STATUS_LED": "", "ALPR_IO__ALERT_RELAY": "22",
        "ALPR_STORE__PATH": "/tmp/alpr-store", "ALPR_HUB__URL": "https://hub.example.org",
        "ALPR_LOG_LEVEL": "debug", "PATH": "/usr/bin", "ALPRX_CAMERA__FPS": "1",
    })
    assert (c.camera.fps, c.camera.width, c.web.tls, c.location.lat) == (15, 1280, False, -33.9)
    assert (c.io.status_led, c.io.alert_relay) == (None, 22)
    assert c.store.path == Path("/tmp/alpr-store") and c.hub.url == "https://hub.example.org"


@pytest.mark.parametrize("env, expected", [
    ({"ALPR_CAMERA__FPS": "fast"}, "ALPR_CAMERA__FPS: camera.fps must be an integer between 1 and 120; got 'fast'"),
    ({"ALPR_CAMERA__BACKEND": "pi"}, "ALPR_CAMERA__BACKEND: camera.backend must be one of picamera2, jetson, "
                                     "opencv, replay; got 'pi'"),
    ({"ALPR_WEB__TLS": "maybe"}, "ALPR_WEB__TLS: web.tls must be true or false; got 'maybe'"),
    ({"ALPR_CAMERA__WIDTH": ""}, "ALPR_CAMERA__WIDTH: camera.width must be an integer between 64 and 8192; got ''"),
    ({"ALPR_CAMERA_FPS": "15"}, "ALPR_CAMERA_FPS is not an override; overrides use a double underscore: ALPR_CAMERA__FPS"),
    ({"ALPR_CAMERA__FSP": "15"}, "ALPR_CAMERA__FSP overrides unknown key camera.fsp; allowed keys in [camera]: "
                                 "camera.backend, camera.source, camera.width, camera.height, camera.fps, "
                                 "camera.loop, camera.camera_id"),
])
def test_bad_env_overrides(tmp_path, env, expected):
    assert one_error("", tmp_path, env) == expected


def test_env_override_set_twice(tmp_path):
    assert one_error("", tmp_path, {"ALPR_CAMERA__FPS": "5", "alpr_camera__fps": "6"}) == \
        "ALPR_CAMERA__FPS and alpr_camera__fps both set camera.fps; keep one"


def test_env_unknown_section_and_secret(tmp_path):
    assert "allowed sections: device, location" in one_error("", tmp_path, {"ALPR_CAMRA__FPS": "1"})
    msg = one_error("", tmp_path, {"ALPR_HUB__TOKEN": "s3cr3t-value"})
    assert msg.startswith("ALPR_HUB__TOKEN looks like a secret") and "s3cr3t" not in msg


# --- alpr config check ------------------------------------------------------------------------

def test_check_ok_prints_a_summary(tmp_path):
    path = write(tmp_path, '[device]\nid = "pole-17"\n[camera]\nbackend = "replay"\nsource = "/srv/x.mp4"\n')
    out = io.StringIO()
    assert check(path, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{path}: ok"
    assert any("pole-17" in line for line in lines) and any("replay '/srv/x.mp4'" in line for line in lines)


def test_check_lists_every_problem(tmp_path):
    path = write(tmp_path, '[camera]\nbackend = "pi"\n[location]\nlat = "abc"\n')
    out = io.StringIO()
    assert check(path, env={"ALPR_HUB__URL": "ftp://x"}, out=out) == 2
    assert out.getvalue().splitlines() == [
        f"{path}: 3 problems",
        "  - location.lat must be a number between -90 and 90; got 'abc'",
        "  - camera.backend must be one of picamera2, jetson, opencv, replay; got 'pi'",
        "  - ALPR_HUB__URL: hub.url must be an https:// URL (http:// only to a loopback host) "
        "or empty for no hub; got 'ftp://x'",
    ], out.getvalue()


def test_check_missing_and_broken_files(tmp_path):
    out = io.StringIO()
    assert check(tmp_path / "absent.toml", out=out) == 2
    assert out.getvalue() == f"{tmp_path / 'absent.toml'}: 1 problem\n  - no such config file\n"
    out = io.StringIO()
    assert check(write(tmp_path, "[camera\n"), out=out) == 2
    assert "not valid TOML" in out.getvalue()


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance.config_command", *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def test_check_as_a_command(tmp_path):
    good = write(tmp_path, '[camera]\nfps = 12\n')
    r = run_module(str(good))
    assert (r.returncode, r.stdout.splitlines()[0]) == (0, f"{good}: ok"), r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[camera]\nfps = "many"\n')
    r = run_module(str(bad))
    assert r.returncode == 2
    assert r.stdout == f"{bad}: 1 problem\n  - camera.fps must be an integer between 1 and 120; got 'many'\n"


# --- docs are tested --------------------------------------------------------------------------

def test_every_field_is_in_configuration_md():
    text = DOC.read_text()
    missing = [f.key for f in config_fields() if f"| `{f.key}` |" not in text]
    assert not missing, f"docs/configuration.md lacks {missing}"
    assert "ALPR_<SECTION>__<FIELD>" in text


def test_configuration_md_table_matches_the_code():
    assert markdown_table() in DOC.read_text(), \
        "docs/configuration.md's table is stale: paste `python -m appliance.config_command --markdown`"


def sample_sections() -> dict[str, str]:
    """The sample's text under each [section] header."""
    parts = re.split(r"^\[(\w+)\]\s*$", SAMPLE.read_text(), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_field_is_in_the_sample():
    sections, missing = sample_sections(), []
    for f in config_fields():
        section, name = f.key.split(".")
        body = sections.get(section, "")
        pattern = rf"^#?\s*{name} = " if f.optional else rf"^{name} = "
        if not re.search(pattern, body, re.MULTILINE):
            missing.append(f.key)
    assert not missing, f"docs/alpr.sample.toml lacks {missing}"


def test_sample_loads_and_shows_the_defaults():
    assert load_config(SAMPLE, {}) == Config()
    assert check(SAMPLE, out=io.StringIO()) == 0
    # every commented-out optional example would be valid too
    uncommented = re.sub(r"^# (\w+ = )", r"\1", SAMPLE.read_text(), flags=re.MULTILINE)
    c = config_module.build(tomllib.loads(uncommented), {})
    assert c.location.lat is not None and c.io.loop_detector is not None
