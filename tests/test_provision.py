"""`alpr provision`: answers file and interactive runs into a temporary root, dry run, refusal and force."""

from __future__ import annotations

import atexit
import functools
import json
import re
import shutil
import tempfile
import stat
from datetime import date, timedelta
from pathlib import Path

import cv2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from appliance import totp, training, users
from appliance.config import load_config
from appliance.provision.command import main
from appliance.provision.steps import to_toml
from appliance.store import Store
from appliance.store.keys import LocalKeyFile
from appliance.synth.driveby import standard_driveby

TODAY = date.today()

ANSWERS = f"""
[device]
id = "main-and-1st"
site_name = "Main St & 1st Ave <northbound>"
[location]
lat = 37.7749
lon = -122.4194
heading_deg = 350
[camera]
backend = "replay"
source = "@DRIVEBY@"
fps = 10
[web]
host = "0.0.0.0"
[admin]
username = "jsmith"
[admin.training]
course = "ALPR operator"
version = "2026.1"
completed = {TODAY - timedelta(days=10)}
expires = {TODAY + timedelta(days=355)}
[policy]
version = "2026.1"
[install]
speed_limit_mph = 35
"""


@functools.cache
def driveby_folder(scale: float = 1.0) -> Path:
    """A replayed camera's folder: a synthetic drive-by whose plates are 135-250 px wide (x scale)."""
    folder = Path(tempfile.mkdtemp(prefix=f"alpr-driveby-{scale:g}-"))
    atexit.register(shutil.rmtree, folder, True)  # cached for the session, removed when it ends
    for i, frame in enumerate(standard_driveby(seed=3, count=2).frames()):
        if i % 2 == 0:
            cv2.imwrite(str(folder / f"f{i:04d}.jpg"), cv2.resize(frame, None, fx=scale, fy=scale))
    return folder


def answers(text: str = ANSWERS, scale: float = 1.0) -> str:
    """The answers with the replayed camera pointed at the drive-by."""
    return text.replace("@DRIVEBY@", str(driveby_folder(scale)))


def _run(tmp_path: Path, text: str, *extra: str, ask=None) -> tuple[int, list[str]]:
    lines: list[str] = []
    args = ["provision", "--root", str(tmp_path / "root"), *extra]
    if text is not None:
        answers_file = tmp_path / "answers.toml"
        tmp_path.mkdir(parents=True, exist_ok=True)
        answers_file.write_text(answers(text))
        args += ["--answers", str(answers_file)]
    kwargs = {"ask": ask} if ask else {}
    rc = main(args, out=lines.append, hasher=users.cheap_hasher(), **kwargs)
    return rc, lines


def _printed(lines: list[str], label: str) -> str:
    found = [l.split(":", 1)[1].strip() for l in lines if l.strip().startswith(label + ":")]
    assert len(found) == 1, lines
    return found[0]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


def test_answers_file_provisions_everything_into_a_root(tmp_path):
    rc, lines = _run(tmp_path, ANSWERS)
    assert rc == 0, "\n".join(lines)
    root = tmp_path / "root"
    cfg = load_config(root / "etc/alpr/alpr.toml", {})
    assert cfg.device.id == "main-and-1st" and cfg.location.lat == 37.7749 and cfg.camera.fps == 10
    key = root / "var/lib/alpr-keys/store.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 32
    dev_key = root / "var/lib/alpr-keys/device.key"
    assert stat.S_IMODE(dev_key.stat().st_mode) == 0o600
    csr_path = root / "var/lib/alpr/provision/device.csr"
    assert stat.S_IMODE(csr_path.stat().st_mode) == 0o644
    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "main-and-1st"
    cert_path = root / "var/lib/alpr/tls/web.crt"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())

    password, secret = _printed(lines, "password"), _printed(lines, "TOTP key")
    with Store.open(root / "var/lib/alpr/store", keys=LocalKeyFile(key)) as store:
        user = users.verify(store, "jsmith", password, hasher=users.cheap_hasher())
        assert user is not None and user.role == "administrator" and user.mfa_enrolled
        from datetime import datetime, timezone
        now = datetime.now(timezone.utc)
        assert totp.verify_code(store, user.id, totp.code_at(secret, totp.step_of(now)), now)
        assert training.current_record(store, user.id, TODAY).version == "2026.1"

    report = json.loads((root / "var/lib/alpr/provision/report.json").read_text())
    html = (root / "var/lib/alpr/provision/report.html").read_text()
    assert report["status"] == "complete" and report["policy_version"] == "2026.1"
    assert report["fingerprints"]["ui_certificate_sha256"] == cert.fingerprint(hashes.SHA256()).hex(":")
    assert re.fullmatch(r"([0-9a-f]{2}:){31}[0-9a-f]{2}", report["fingerprints"]["device_key_sha256"])
    assert report["fingerprints"]["device_key_sha256"] in html
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["hub enrolment"]["status"] == "skipped"
    assert by_name["camera and test read"]["status"] == "ok"
    assert by_name["camera exposure"]["status"] == "ok"
    assert "&lt;northbound&gt;" in html and "<northbound>" not in html  # escaped
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)  # no external assets
    for secret_text in (password, secret, key.read_bytes().hex()):
        assert secret_text not in html and secret_text not in json.dumps(report)
    assert "PRIVATE KEY" not in html + json.dumps(report)


def test_dry_run_changes_nothing(tmp_path):
    rc, lines = _run(tmp_path, ANSWERS, "--dry-run")
    assert rc == 0, lines
    assert _files(tmp_path / "root") == []
    assert any("dry run: nothing was changed" in l for l in lines)
    assert not any(l.strip().startswith("password:") for l in lines)


def test_failed_check_refuses_and_touches_nothing(tmp_path):
    rc, lines = _run(tmp_path, ANSWERS.replace("lat = 37.7749", "lat = 97.5"))
    assert rc == 2
    assert _files(tmp_path / "root") == []
    failed = [l for l in lines if l.startswith("[FAILED]")]
    assert len(failed) == 1 and "location.lat must be a number between -90 and 90; got 97.5" in failed[0]
    assert any("provisioning refused" in l for l in lines)


def test_force_needs_a_reason_and_the_reason_goes_in_the_report(tmp_path):
    bad = ANSWERS.replace("lat = 37.7749", "lat = 97.5")
    rc, lines = _run(tmp_path, bad, "--force")
    assert rc == 2 and "--force needs --reason" in lines[0] and _files(tmp_path / "root") == []
    rc, lines = _run(tmp_path, bad, "--force", "--reason", "GPS unit broken; surveyed location to follow")
    assert rc == 0, lines
    report = json.loads((tmp_path / "root/var/lib/alpr/provision/report.json").read_text())
    assert report["status"] == "forced"
    assert report["forced_reason"] == "GPS unit broken; surveyed location to follow"
    assert report["config"]["location"]["lat"] is None  # the bad value is not passed off as valid
    assert [c["name"] for c in report["checks"] if c["status"] == "failed"] == ["config file"]
    assert (tmp_path / "root/var/lib/alpr-keys/store.key").exists()  # the other steps ran
    assert "GPS unit broken" in (tmp_path / "root/var/lib/alpr/provision/report.html").read_text()


def test_a_hub_url_without_the_pinned_ca_fingerprint_fails_enrolment_in_either_key_mode(tmp_path):
    """Enrolment itself is tested against a real EST hub in tests/test_enrolment.py."""
    text = ANSWERS + '[hub]\nurl = "https://hub.agency.example"\n'
    rc, lines = _run(tmp_path, text, "--dry-run")
    assert rc != 0 and _files(tmp_path / "root") == []
    assert any(l.startswith("[FAILED] hub enrolment: enrol.ca_sha256") for l in lines), lines
    rc, lines = _run(tmp_path, text + '[keys]\nmode = "hub"\n')
    assert rc == 2 and _files(tmp_path / "root") == []  # hub mode without enrolment: refused before any change
    assert any(l.startswith("[FAILED] hub enrolment") for l in lines), lines


def test_unknown_answer_keys_are_named(tmp_path):
    from appliance.errors import ConfigError
    with pytest.raises(ConfigError, match=r"unknown key admin.password; allowed keys in \[admin\]: username, training"):
        _run(tmp_path, ANSWERS.replace('username = "jsmith"', 'username = "jsmith"\npassword = "x"'))
    assert _files(tmp_path / "root") == []


def test_without_training_the_admin_is_told_to_record_it(tmp_path):
    text = re.sub(r"\[admin.training\].*?\n\[policy\]", "[policy]", ANSWERS, flags=re.S)
    rc, lines = _run(tmp_path, text)
    assert rc == 0, lines
    line = next(l for l in lines if "administrator training" in l)
    assert line.startswith("[ skip ]") and "before viewing data" in line


def test_interactive_run_with_scripted_answers(tmp_path):
    script = iter([
        "pole-7", "Oak & 3rd", "34.05", "-118.25", "90",   # device id, site, lat, lon, heading
        "replay", str(driveby_folder()), "", "", "",       # backend, source, width, height, fps (defaults)
        "",                                                  # hub URL: none
        "40",                                                # speed limit
        "admin1",                                            # administrator
        "",                                                  # training: later
        "2026.2",                                            # policy version
        "",                                                  # key mode: local
    ])
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(script)

    rc, lines = _run(tmp_path, None, ask=ask)
    assert rc == 0, lines
    assert next(script, None) is None and len(prompts) == 16
    root = tmp_path / "root"
    cfg = load_config(root / "etc/alpr/alpr.toml", {})
    assert (cfg.device.id, cfg.location.lon, cfg.camera.width) == ("pole-7", -118.25, 1920)
    report = json.loads((root / "var/lib/alpr/provision/report.json").read_text())
    assert report["policy_version"] == "2026.2" and report["administrator"]["username"] == "admin1"


def test_interactive_run_without_device_id_fails_the_config_check(tmp_path):
    answers_ = iter(["", "", "", "", "", "replay", str(driveby_folder()), "", "", "", "", "", "admin1", "", "2026.2", ""])
    rc, lines = _run(tmp_path, None, ask=lambda _prompt: next(answers_))
    assert rc == 2 and _files(tmp_path / "root") == []
    assert any(l.startswith("[FAILED] config file") and "device.id is missing" in l for l in lines)
    assert any(l.startswith("[FAILED] device key and CSR") for l in lines)


def test_provisioning_twice_keeps_keys_and_refuses_a_second_admin_of_the_same_name(tmp_path):
    assert _run(tmp_path, ANSWERS)[0] == 0
    root = tmp_path / "root"
    key_before = (root / "var/lib/alpr-keys/store.key").read_bytes()
    dev_before = (root / "var/lib/alpr-keys/device.key").read_bytes()
    rc, lines = _run(tmp_path, ANSWERS)
    assert rc == 2
    assert any("[FAILED] first administrator: a user named 'jsmith' exists already" in l for l in lines)
    assert (root / "var/lib/alpr-keys/store.key").read_bytes() == key_before
    assert (root / "var/lib/alpr-keys/device.key").read_bytes() == dev_before
    assert json.loads((root / "var/lib/alpr/provision/report.json").read_text())["status"] == "incomplete"


def test_toml_writer_round_trips_awkward_strings():
    import tomllib
    doc = {"device": {"id": "a", "site_name": 'quote " backslash \\ tab\t é 🚗'}, "web": {"tls": False, "port": 8443}}
    assert tomllib.loads(to_toml(doc)) == doc


def test_the_live_camera_check_reads_a_plate_and_keeps_sample_crops(tmp_path):
    """Issue #12: a test read on the configured camera; plates must be >= 75 px wide."""
    rc, lines = _run(tmp_path, ANSWERS)
    assert rc == 0, lines
    report = json.loads((tmp_path / "root/var/lib/alpr/provision/report.json").read_text())
    check = next(c for c in report["checks"] if c["name"] == "camera and test read")
    assert check["status"] == "ok" and check["facts"]["plate_px"] >= 75
    assert set(check["facts"]["test_reads"]) & set(standard_driveby(seed=3, count=2).plates)
    assert check["facts"]["sample_crops"] and all(Path(c).is_file() for c in check["facts"]["sample_crops"])


def test_no_camera_and_a_plate_too_small_stop_provisioning(tmp_path):
    rc, lines = _run(tmp_path / "a", ANSWERS.replace("@DRIVEBY@", str(tmp_path / "no-such-clip")))
    assert rc == 2 and any(l.startswith("[FAILED] camera and test read: no frames from the replay camera") for l in lines), lines
    rc, lines = _run(tmp_path / "b", answers(ANSWERS, scale=0.35))
    assert rc == 2 and any("[FAILED] camera and test read" in l and ("below 75 px" in l or "no plate found" in l)
                           for l in lines), lines


def test_the_ir_switch_check_is_asked_for_and_fails_when_the_picture_does_not_brighten(tmp_path):
    """The check runs only when asked (it needs the dark). A replayed clip does not brighten
    when the (simulated) illuminator comes on, as a camera behind a stuck IR-cut filter would not:
    provisioning stops, names what to check, and keeps both frames."""
    rc, lines = _run(tmp_path / "a", ANSWERS)
    assert rc == 0 and any(l.startswith("[ skip ] IR switch: not asked for") for l in lines), lines

    asked = ANSWERS.replace("[install]\n", "[install]\ncheck_ir_switch = true\n")
    rc, lines = _run(tmp_path / "b", asked)
    assert rc == 2 and any(l.startswith("[FAILED] IR switch: io.backend and io.ir_illuminator") for l in lines), lines

    wired = asked.replace("[web]\n", "[io]\nbackend = \"simulated\"\nir_illuminator = 18\nir_cut = 23\n[web]\n")
    rc, lines = _run(tmp_path / "c", wired)
    failed = [l for l in lines if l.startswith("[FAILED] IR switch:")]
    assert rc == 2 and failed and "check the illuminator's power and wiring" in failed[0], lines
    report = json.loads((tmp_path / "c/root/var/lib/alpr/provision/report.json").read_text())
    check = next(c for c in report["checks"] if c["name"] == "IR switch")
    assert check["facts"]["brightness_change"] < check["facts"]["minimum"] == 15.0
    assert sorted(Path(f).name for f in check["facts"]["frames"]) == ["ir-off.png", "ir-on.png"]
