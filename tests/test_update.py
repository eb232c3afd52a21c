"""`alpr update` (issue #12): signed bundles, side-by-side install, health wait, rollback.

The end-to-end test runs the real device process (`python -m appliance run` on a replayed
camera) from the release the `current` link points at, exactly as the systemd unit does with
PYTHONPATH=/opt/alpr/current/site, and kills it with SIGKILL on each restart.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.cli import main
from appliance.errors import UpdateError
from appliance.store.store import Store
from appliance.synth.driveby import standard_driveby
from appliance.update.bundle import build_bundle, verify_bundle
from appliance.update.health_mark import read_mark
from appliance.update.releases import Releases
from appliance.update.updater import apply_update

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def signer() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def good_bundle(tmp_path_factory, signer) -> Path:
    out = tmp_path_factory.mktemp("bundles") / "good.alpr"
    build_bundle(REPO, "9.0.0", signer, out)
    return out


def test_a_signed_bundle_verifies_and_carries_the_stamped_version(good_bundle, signer, tmp_path):
    manifest, payload = verify_bundle(good_bundle, signer.public_key())
    assert manifest.version == "9.0.0" and manifest.payload_size == len(payload)
    releases = Releases(tmp_path)
    site = releases.install(manifest, payload) / "site"
    assert 'version = "9.0.0"' in (site / "appliance" / "__init__.py").read_text()
    assert (site / "appliance" / "recognition" / "models" / "reader.onnx").is_file()
    assert not list(site.rglob("__pycache__"))


def test_a_bundle_signed_by_another_key_is_refused_and_nothing_is_installed(good_bundle, tmp_path):
    releases = Releases(tmp_path)
    with pytest.raises(UpdateError, match="signature does not match the trusted update signer"):
        apply_update(good_bundle, Ed25519PrivateKey.generate().public_key(), releases, _no_restart,
                     health_file=tmp_path / "health.json", timeout_s=5)
    assert releases.installed() == [] and releases.current() is None


def test_a_changed_payload_byte_is_refused(good_bundle, signer, tmp_path):
    members = {}
    with tarfile.open(good_bundle) as tar:
        for m in tar.getmembers():
            members[m.name] = tar.extractfile(m).read()
    payload = bytearray(members["payload.tar.gz"])
    payload[len(payload) // 2] ^= 0x01
    members["payload.tar.gz"] = bytes(payload)
    tampered = tmp_path / "tampered.alpr"
    with tarfile.open(tampered, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            import io
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(UpdateError, match="does not match its signed hash"):
        verify_bundle(tampered, signer.public_key())


def test_a_file_that_is_not_a_bundle_gets_a_clear_error(tmp_path, signer):
    junk = tmp_path / "junk.alpr"
    junk.write_bytes(b"not a tar file at all")
    with pytest.raises(UpdateError, match="cannot read the update bundle"):
        verify_bundle(junk, signer.public_key())


def _no_restart() -> None:
    raise AssertionError("nothing may restart for a refused bundle")


class Device:
    """The device service as systemd would run it: `alpr run` from ROOT/current/site."""

    def __init__(self, root: Path, config: Path, workdir: Path) -> None:
        self.root, self.config, self.workdir = root, config, workdir
        self.proc: subprocess.Popen | None = None

    def restart(self) -> None:
        self.kill()
        env = {k: v for k, v in os.environ.items() if k != "ALPR_UPDATE__HEALTH_FILE"}  # the config file's, here
        env.update(PYTHONUNBUFFERED="1", PYTHONPATH=str(self.root / "current" / "site"))
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(self.config)],
                                     cwd=self.workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


def _broken_copy(tmp_path: Path) -> Path:
    """A source tree whose device process dies at start, like a release with a fatal bug."""
    src = tmp_path / "broken-src"
    for package in ("appliance", "firmware", "webui"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    with (src / "appliance" / "pipeline.py").open("a") as f:
        f.write('\nraise RuntimeError("a release with a fatal bug")\n')
    return src


def test_update_switches_to_a_healthy_release_and_rolls_back_one_that_never_reports(tmp_path, good_bundle, signer):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, frame in enumerate(standard_driveby(seed=3, count=4).frames()):
        cv2.imwrite(str(frames / f"f{i:04d}.jpg"), frame)
    root, health, store_dir = tmp_path / "opt", tmp_path / "run" / "health.json", tmp_path / "store"
    root.mkdir()
    config = tmp_path / "alpr.toml"
    config.write_text(f'[camera]\nbackend = "replay"\nsource = "{frames}"\nfps = 10\nloop = true\n'
                      f'[store]\npath = "{store_dir}"\n[web]\nhost = "127.0.0.1"\ntls = false\n'
                      f'[update]\nroot = "{root}"\nhealth_file = "{health}"\n')
    broken = tmp_path / "broken.alpr"
    build_bundle(_broken_copy(tmp_path), "9.1.0", signer, broken)
    releases, device = Releases(root), Device(root, config, tmp_path)
    try:
        first = apply_update(good_bundle, signer.public_key(), releases, device.restart,
                             health_file=health, timeout_s=120, poll_s=0.2)
        assert first.healthy and releases.current() == "9.0.0" and read_mark(health)["version"] == "9.0.0"
        with Store.open(store_dir) as s:
            reads_before = s.count()

        second = apply_update(broken, signer.public_key(), releases, device.restart,
                              health_file=health, timeout_s=20, poll_s=0.2)
        assert not second.healthy and second.previous == "9.0.0"
        assert releases.current() == "9.0.0" and set(releases.installed()) == {"9.0.0", "9.1.0"}
        # the old release is back, running, and the data written before the trial is all there
        back = apply_update_wait(health, "9.0.0", device)
        assert back, "the rolled-back release did not report healthy again"
    finally:
        device.kill()
    with Store.open(store_dir) as s:
        assert s.count() >= reads_before


def apply_update_wait(health: Path, version: str, device: Device, timeout: float = 120) -> bool:
    import time
    start = time.time()
    while time.time() - start < timeout:
        mark = read_mark(health)
        if mark and mark["version"] == version and mark["at"] >= start and mark["pid"] == device.proc.pid:
            return True
        time.sleep(0.2)
    return False


def test_alpr_release_keygen_and_build_make_a_bundle_alpr_update_refuses_without_the_trusted_key(tmp_path, capsys):
    key = tmp_path / "release.pem"
    assert main(["release", "keygen", "--out", str(key)]) == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "b.alpr"
    assert main(["release", "build", "--signer", str(key), "--version", "1.2.3", "--out", str(out),
                 "--source", str(REPO)]) == 0
    root = tmp_path / "opt"
    root.mkdir()
    other = Ed25519PrivateKey.generate().public_key()
    from cryptography.hazmat.primitives import serialization
    (tmp_path / "other.pub").write_bytes(other.public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "alpr.toml").write_text(f'[update]\nroot = "{root}"\ntrusted_signer = "{tmp_path / "other.pub"}"\n'
                                        f'health_file = "{tmp_path / "h.json"}"\nrestart_command = "false"\n')
    assert main(["update", str(out), "--config", str(tmp_path / "alpr.toml")]) == 2
    assert "signature does not match" in capsys.readouterr().err
    assert Releases(root).installed() == []
