"""The device image's parts (image-build/, issue #11), checked with the real tools.

Full Raspberry Pi and Jetson images need Raspberry Pi's and NVIDIA's package servers, which
CI cannot reach, so these tests install the shared parts into a temporary root filesystem
with the same scripts the recipes run, then check them there: `systemd-analyze verify` and
`security --offline` on the units, sysusers/tmpfiles results, `nft -c` on the firewall,
`chronyd -p` on the time config, shellcheck on every script, and the store-key script.
A tool that is not installed skips its test with the Debian package to install.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMAGE_BUILD = REPO / "image-build"
SHARED = IMAGE_BUILD / "shared"
UNIT_DIR = SHARED / "rootfs/usr/lib/systemd/system"
UNITS = ("alpr-run.service", "alpr-serve.service", "alpr-store-key.service", "alpr-cert-renew.service")
MAX_EXPOSURE = 3.0
HOST_UNITS = Path("/usr/lib/systemd/system")


def tool(name: str, package: str) -> str:
    """The tool's path, or skip naming the Debian package that provides it."""
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)
    if not path:
        pytest.skip(f"{name} is not installed (Debian package {package})")
    return path


def run(*args: str | Path, check: bool = True, env: dict[str, str] | None = None,
        cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when `check` and it fails."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})}, cwd=cwd)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def unit_settings(path: Path) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file (keys repeat in systemd units, so values are lists)."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


# --- a root filesystem with the shared parts installed, as the recipes install them ---------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The appliance's wheel, built by image-build/build-wheel.sh from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    run(IMAGE_BUILD / "build-wheel.sh", out, env={"PYTHON": sys.executable})
    (whl,) = out.glob("alpr_appliance-*.whl")
    return whl


def make_root(base: Path, board: str, wheel: Path, credentials: str = "encrypted") -> Path:
    """A root with this host's systemd units (what a Debian root has), then install-rootfs.sh and
    install-venv.sh into /opt/alpr (without dependencies: they are not the image build's subject)."""
    if not HOST_UNITS.is_dir():
        pytest.skip(f"{HOST_UNITS} is absent: the unit checks need systemd's own units (Debian package systemd)")
    root = base / board
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    run(SHARED / "install-rootfs.sh", "--board", board, "--root", root, "--credentials", credentials, "--allow-missing")
    run(SHARED / "install-venv.sh", "--prefix", root / "opt/alpr", "--link", "none", wheel,
        env={"PIP_NO_DEPS": "1", "PYTHON": str(Path(sys.base_prefix) / "bin/python3")})
    return root


@pytest.fixture(scope="module")
def pi_root(tmp_path_factory, wheel) -> Path:
    tool("systemd-sysusers", "systemd")
    return make_root(tmp_path_factory.mktemp("roots"), "pi", wheel)


@pytest.fixture(scope="module")
def jetson_root(tmp_path_factory, wheel) -> Path:
    tool("systemd-sysusers", "systemd")
    return make_root(tmp_path_factory.mktemp("roots"), "jetson", wheel, credentials="plain")


# --- systemd units -----------------------------------------------------------------------

@pytest.mark.parametrize("unit", [*UNITS, "alpr-cert-renew.timer", "tmp.mount"])
def test_units_verify_in_the_installed_root(pi_root, unit):
    analyze = tool("systemd-analyze", "systemd")
    p = run(analyze, "verify", "--man=no", f"--root={pi_root}", unit, check=False)
    assert p.returncode == 0 and not p.stderr.strip(), f"systemd-analyze verify {unit}:\n{p.stderr}"


def test_verify_catches_a_broken_exec_start(pi_root):
    """The verify check can fail: a drop-in pointing ExecStart at a missing program is reported."""
    analyze = tool("systemd-analyze", "systemd")
    dropin = pi_root / "etc/systemd/system/alpr-run.service.d/99-broken.conf"
    dropin.parent.mkdir(parents=True, exist_ok=True)
    dropin.write_text("[Service]\nExecStart=\nExecStart=/opt/alpr/venv/bin/alpr-missing run\n")
    try:
        p = run(analyze, "verify", "--man=no", f"--root={pi_root}", "alpr-run.service", check=False)
    finally:
        shutil.rmtree(dropin.parent)
    assert p.returncode != 0 and "alpr-missing" in p.stderr


def exposure(root: Path, unit: str) -> float:
    analyze = tool("systemd-analyze", "systemd")
    p = run(analyze, "security", "--offline=true", f"--root={root}", "--no-pager", unit, check=False)
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+(?:\.\d+)?)", p.stdout + p.stderr)
    assert m, f"no exposure score in:\n{p.stdout}\n{p.stderr}"
    return float(m.group(1))


@pytest.mark.parametrize("board", ["pi", "jetson"])
@pytest.mark.parametrize("unit", UNITS)
def test_exposure_of_each_unit_is_at_most_3(request, board, unit):
    """`systemd-analyze security` with each board's drop-ins (Jetson relaxes alpr-run for CUDA/Argus)."""
    root = request.getfixturevalue(f"{board}_root")
    score = exposure(root, unit)
    print(f"{board} {unit}: exposure {score}")
    assert score <= MAX_EXPOSURE, f"{unit} on {board}: exposure {score} > {MAX_EXPOSURE}"


def test_the_device_unit_runs_alpr_run_as_a_notify_service_with_a_watchdog():
    s = unit_settings(UNIT_DIR / "alpr-run.service")
    assert s["ExecStart"] == ["/opt/alpr/venv/bin/alpr run --config /etc/alpr/alpr.toml"]
    assert s["Type"] == ["notify"] and s["Restart"] == ["on-failure"]
    assert int(s["WatchdogSec"][0]) > 0
    assert s["User"] == ["alpr"] and set(s["SupplementaryGroups"][0].split()) == {"video", "gpio"}
    assert s["DevicePolicy"] == ["closed"] and "PrivateDevices" not in s
    assert s["LoadCredentialEncrypted"] == ["store-key:/etc/alpr/credentials/store-key"]


@pytest.mark.parametrize("unit", ["alpr-run.service", "alpr-serve.service"])
def test_service_hardening_the_issue_asks_for(unit):
    s = unit_settings(UNIT_DIR / unit)
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                       ("PrivateTmp", "yes"), ("LimitCORE", "0"), ("StateDirectory", "alpr"),
                       ("StateDirectoryMode", "0700"), ("User", "alpr"), ("UMask", "0077")]:
        assert s.get(key) == [value], f"{unit}: {key}={s.get(key)}, want {value}"
    assert s["CapabilityBoundingSet"] == [""] and s["AmbientCapabilities"] == [""], "no capabilities at all"
    assert "@system-service" in s["SystemCallFilter"][0].split()
    assert "ReadWritePaths" not in s, "the state directory is the only writable path"


def test_the_web_unit_serves_without_capabilities_and_after_the_firewall():
    s = unit_settings(UNIT_DIR / "alpr-serve.service")
    assert s["ExecStart"] == ["/opt/alpr/venv/bin/alpr serve --config /etc/alpr/alpr.toml"]
    assert s["Requires"] == ["nftables.service"] and "nftables.service" in s["After"][0].split()
    assert s["PrivateDevices"] == ["yes"] and s["PrivateUsers"] == ["yes"]
    assert s["MemoryDenyWriteExecute"] == ["yes"]


def test_both_recipes_use_the_one_copy_of_the_units():
    """Units, sysusers and tmpfiles live once in shared/; the boards only add drop-ins."""
    names: dict[str, list[Path]] = {}
    digests: dict[str, list[Path]] = {}
    for f in IMAGE_BUILD.rglob("*"):
        if f.is_file() and ".cache" not in f.parts and "out" not in f.parts:
            names.setdefault(f.name, []).append(f)
            digests.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), []).append(f)
    for unit in [*UNITS, "tmp.mount", "alpr.conf"]:
        assert len(names[unit]) == (2 if unit == "alpr.conf" else 1), names[unit]  # sysusers.d + tmpfiles.d
    assert all(len(paths) == 1 or paths[0].stat().st_size == 0 for paths in digests.values()), \
        [p for p in digests.values() if len(p) > 1]
    for board in ("pi", "jetson"):
        assert not list((IMAGE_BUILD / board).rglob("*.service")), f"{board}/ must hold drop-ins only"
    pi_run = (IMAGE_BUILD / "pi/stage-alpr/00-alpr/01-run.sh").read_text()
    jetson = (IMAGE_BUILD / "jetson/install.sh").read_text()
    for script in ("shared/install-venv.sh", "shared/install-rootfs.sh"):
        assert script in pi_run and script in jetson
    assert "--board pi" in pi_run and "--board jetson" in jetson


# --- users, folders, enabled and masked units -----------------------------------------------

def passwd(root: Path, name: str) -> list[str]:
    return next(line.split(":") for line in (root / "etc/passwd").read_text().splitlines() if line.startswith(name + ":"))


def test_the_alpr_user_and_its_private_state_folder(pi_root):
    user = passwd(pi_root, "alpr")
    assert user[5] == "/var/lib/alpr" and user[6] == "/usr/sbin/nologin"
    uid = int(user[2])
    assert uid < 1000, "a system user"
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in (pi_root / "etc/group").read_text().splitlines()}
    assert "alpr" in groups["video"] and "alpr" in groups["gpio"]
    state = (pi_root / "var/lib/alpr").stat()
    assert stat.S_IMODE(state.st_mode) == 0o700 and state.st_uid == uid
    creds = (pi_root / "etc/alpr/credentials").stat()
    assert stat.S_IMODE(creds.st_mode) == 0o700 and creds.st_uid == 0
    assert stat.S_IMODE((pi_root / "etc/alpr/firewall-site.nft").stat().st_mode) == 0o600


def test_services_enabled_swap_and_extras_masked(pi_root):
    system = pi_root / "etc/systemd/system"
    wants = {p.name for p in (system / "multi-user.target.wants").iterdir()}
    assert {"alpr-run.service", "alpr-serve.service", "alpr-store-key.service"} <= wants
    assert os.readlink(system / "timers.target.wants/alpr-cert-renew.timer") == \
        "/usr/lib/systemd/system/alpr-cert-renew.timer"  # the daily certificate renewal
    assert os.readlink(system / "local-fs.target.wants/tmp.mount") == "/etc/systemd/system/tmp.mount"
    assert os.readlink(system / "swap.target") == "/dev/null"
    if (HOST_UNITS / "nftables.service").exists():
        assert any(system.glob("*.wants/nftables.service")), "the firewall is enabled"


def test_installed_software_is_checkable(pi_root):
    """install-venv.sh leaves checksums of every installed file (POLICY DS-6); a changed file fails."""
    sums = pi_root / "opt/alpr/SHA256SUMS"
    # Paths in the file are relative to / (the device's root), so the check runs from there.
    assert run("sha256sum", "--check", "--quiet", sums, cwd=Path("/")).returncode == 0
    cli = next((pi_root / "opt/alpr/venv/lib").glob("python3*/site-packages/appliance/cli.py"))
    original = cli.read_bytes()
    try:
        cli.write_bytes(original + b"\n# tampered\n")
        p = run("sha256sum", "--check", "--quiet", sums, check=False, cwd=Path("/"))
        assert p.returncode != 0 and "cli.py: FAILED" in p.stdout
    finally:
        cli.write_bytes(original)


def test_the_installed_command_checks_the_shipped_configs(pi_root):
    """The wheel's `alpr` entry point runs from /opt/alpr/venv and accepts both boards' starter configs.
    (Third-party packages come from this checkout's venv: the wheel, not its dependencies, is under test.)"""
    alpr = pi_root / "opt/alpr/venv/bin/alpr"
    env = {"PYTHONPATH": sysconfig.get_paths()["purelib"]}
    # cwd is the root, not this checkout, whose appliance/ would otherwise shadow the installed one.
    assert "config" in run(alpr, "--help", env=env, cwd=pi_root).stdout
    for board in ("pi", "jetson"):
        p = run(alpr, "config", "check", IMAGE_BUILD / board / "rootfs/etc/alpr/alpr.toml", env=env, cwd=pi_root)
        assert ": ok" in p.stdout
    where = run(pi_root / "opt/alpr/venv/bin/python", "-c", "import appliance; print(appliance.__file__)",
                env=env, cwd=pi_root)
    assert where.stdout.startswith(str(pi_root / "opt/alpr/venv"))


def test_reinstall_keeps_the_sites_settings(tmp_path):
    tool("systemd-sysusers", "systemd")
    root = tmp_path / "root"
    root.mkdir()
    args = (SHARED / "install-rootfs.sh", "--board", "pi", "--root", root, "--allow-missing")
    run(*args)
    config = root / "etc/alpr/alpr.toml"
    config.write_text('[camera]\nbackend = "opencv"\nsource = "rtsp://cam.local/stream"\n')
    unit = root / "usr/lib/systemd/system/alpr-run.service"
    unit.write_text("stale\n")
    p = run(*args)
    assert "kept the site's /etc/alpr/alpr.toml" in p.stdout
    assert "rtsp://cam.local" in config.read_text()
    assert unit.read_bytes() == (UNIT_DIR / "alpr-run.service").read_bytes(), "shipped files are replaced"


def test_install_rootfs_refuses_an_image_without_the_firewall(tmp_path):
    tool("systemd-sysusers", "systemd")
    p = run(SHARED / "install-rootfs.sh", "--board", "pi", "--root", tmp_path, check=False)
    assert p.returncode == 2 and "nftables.service is not installed" in p.stderr and "nftables package" in p.stderr


@pytest.mark.parametrize("args, message", [
    (["--board", "rpi"], "--board must be pi or jetson; got 'rpi'"),
    (["--board", "pi", "--credentials", "tpm"], "--credentials must be encrypted or plain; got 'tpm'"),
    (["--board", "pi", "--bogus"], "unknown argument '--bogus'"),
])
def test_install_rootfs_names_bad_arguments(tmp_path, args, message):
    p = run(SHARED / "install-rootfs.sh", "--root", tmp_path, *args, check=False)
    assert p.returncode == 2 and message in p.stderr


def test_install_venv_refuses_what_is_not_a_wheel(tmp_path):
    bogus = tmp_path / "alpr.tar.gz"
    bogus.write_bytes(b"")
    p = run(SHARED / "install-venv.sh", "--prefix", tmp_path / "opt", bogus, check=False)
    assert p.returncode == 2 and "is not a wheel (.whl)" in p.stderr
    assert not (tmp_path / "opt").exists()


# --- store key --------------------------------------------------------------------------------

STORE_KEY = SHARED / "rootfs/usr/lib/alpr/alpr-store-key"


def test_store_key_plain_is_32_random_bytes_readable_by_root_only(tmp_path):
    out = tmp_path / "credentials/store-key"
    run(STORE_KEY, "--plain", out)
    key = out.read_bytes()
    assert len(key) == 32 and len(set(key)) > 8
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    other = tmp_path / "other/store-key"
    run(STORE_KEY, "--plain", other)
    assert other.read_bytes() != key, "each device makes its own key"


def test_store_key_is_never_replaced(tmp_path):
    out = tmp_path / "store-key"
    run(STORE_KEY, "--plain", out)
    key = out.read_bytes()
    p = run(STORE_KEY, "--plain", out, check=False)
    assert p.returncode == 1 and "refusing to replace a store key" in p.stderr
    assert out.read_bytes() == key and list(tmp_path.iterdir()) == [out]


def test_store_key_sealed_with_systemd_creds(tmp_path):
    creds = tool("systemd-creds", "systemd")
    out = tmp_path / "store-key"
    # auto-initrd seals with the TPM when there is one, else a null key: no host key is made here.
    run(STORE_KEY, "--with-key", "auto-initrd", out)
    sealed = out.read_bytes()
    assert len(sealed) > 32
    key = subprocess.run([creds, "decrypt", "--name=store-key", str(out), "-"], capture_output=True, check=True).stdout
    assert len(key) == 32 and key not in sealed


# --- firewall ---------------------------------------------------------------------------------

FIREWALL = SHARED / "rootfs/etc/nftables.conf"
SITE = SHARED / "rootfs/etc/alpr/firewall-site.nft"
SITE_INCLUDE = 'include "/etc/alpr/firewall-site.nft"'


def ruleset_with_site(tmp_path: Path, site_text: str) -> Path:
    """etc/nftables.conf with its one include pointed at a site file in tmp_path."""
    text = FIREWALL.read_text()
    assert text.count(SITE_INCLUDE) == 1
    site = tmp_path / "firewall-site.nft"
    site.write_text(site_text)
    ruleset = tmp_path / "nftables.conf"
    ruleset.write_text(text.replace(SITE_INCLUDE, f'include "{site}"'))
    return ruleset


def in_new_netns(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run in a new, empty network namespace, so the host's firewall is never touched."""
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return run(*prefix, *args, check=check)
    pytest.skip("cannot make a network namespace here (unshare --net), so nft cannot be run safely")


def nft(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    return in_new_netns(tool("nft", "nftables"), *args, check=check)


def test_firewall_ruleset_passes_nft_check(tmp_path):
    nft("-c", "-f", ruleset_with_site(tmp_path, SITE.read_text()))


def test_firewall_check_names_a_bad_site_entry(tmp_path):
    bad = SITE.read_text() + "add element inet alpr hub_v4 { 203.0.113.300 }\n"
    p = nft("-c", "-f", ruleset_with_site(tmp_path, bad), check=False)
    assert p.returncode != 0 and "203.0.113.300" in p.stderr


def test_firewall_drops_by_default_and_opens_only_https_ssh_and_outbound_services(tmp_path):
    """Load it for real in an empty network namespace and read back what the kernel holds."""
    ruleset = ruleset_with_site(tmp_path, SITE.read_text())
    binary = tool("nft", "nftables")
    script = tmp_path / "load-and-list.sh"
    script.write_text(f'set -e\n{binary} -f "{ruleset}"\n{binary} -j list ruleset\n')
    items = json.loads(in_new_netns("sh", script).stdout)["nftables"]
    chains = {i["chain"]["name"]: i["chain"] for i in items if "chain" in i}
    for name in ("input", "forward", "output"):
        assert chains[name]["policy"] == "drop", f"{name} must drop by default"
    rules = [i["rule"] for i in items if "rule" in i]
    text = json.dumps(rules)
    def ports(chain: str) -> set[int]:
        return {int(m) for r in rules if r["chain"] == chain
                for m in re.findall(r'"field": "dport"\}\}, "right": (\d+)', json.dumps(r["expr"]))}
    # HTTPS (443 is redirected to 8443) and SSH, plus the DHCP(v6) client's replies.
    assert ports("input") == {8443, 22, 68, 546}, ports("input")
    # DHCP(v6), DNS, NTP, NTS key establishment, HTTPS to the hub.
    assert ports("output") == {67, 547, 53, 123, 4460, 443}, ports("output")
    assert '"redirect"' in text
    sets = {i["set"]["name"]: i["set"].get("elem", []) for i in items if "set" in i}
    assert sets["hub_v4"] == [] and sets["web_v4"], "no hub until provisioning; the web UI from the site's networks"


# --- time ---------------------------------------------------------------------------------------

CHRONY = SHARED / "rootfs/etc/chrony"


def chronyd() -> str:
    return tool("chronyd", "chrony")


def test_chrony_config_parses_and_requires_authenticated_time():
    p = run(chronyd(), "-p", "-f", CHRONY / "chrony.conf")
    assert "authselectmode require" in p.stdout and "nocerttimecheck 1" in p.stdout


def test_chrony_sources_are_nts(tmp_path):
    lines = [line for line in (CHRONY / "sources.d/alpr.sources").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines and all(line.split()[0] == "server" and "nts" in line.split() for line in lines)
    conf = tmp_path / "sources.conf"
    conf.write_text("\n".join(lines) + "\n")
    run(chronyd(), "-p", "-f", conf)
    conf.write_text(lines[0].replace(" nts", " ntz") + "\n")
    assert run(chronyd(), "-p", "-f", conf, check=False).returncode != 0


# --- scripts ------------------------------------------------------------------------------------

def scripts() -> list[Path]:
    """Every shell script and sourced shell fragment under image-build/."""
    found = []
    for f in sorted(IMAGE_BUILD.rglob("*")):
        if not f.is_file() or ".cache" in f.parts or "out" in f.parts:
            continue
        head = f.read_bytes()[:64]
        if f.suffix == ".sh" or head.startswith((b"#!/bin/bash", b"#!/bin/sh")) or head.startswith(b"# shellcheck shell="):
            found.append(f)
    return found


def test_the_scripts_are_found_and_executable():
    names = {f.relative_to(IMAGE_BUILD).as_posix() for f in scripts()}
    assert {"build-wheel.sh", "shared/install-rootfs.sh", "shared/install-venv.sh", "pi/build.sh",
            "pi/stage-alpr/prerun.sh", "pi/stage-alpr/00-alpr/01-run.sh", "jetson/install.sh",
            "shared/rootfs/usr/lib/alpr/alpr-store-key", "pi/config", "pi/stage-alpr/EXPORT_IMAGE"} <= names
    for f in scripts():
        if f.read_bytes().startswith(b"#!"):
            assert os.access(f, os.X_OK), f"{f} must be executable (pi-gen skips run scripts that are not)"


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.relative_to(IMAGE_BUILD).as_posix())
def test_script_parses(script):
    shell = "sh" if script.read_bytes().startswith(b"#!/bin/sh") else "bash"
    run(shell, "-n", script)


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.relative_to(IMAGE_BUILD).as_posix())
def test_script_passes_shellcheck(script):
    shellcheck = tool("shellcheck", "shellcheck")
    p = run(shellcheck, "--external-sources", script, check=False)
    assert p.returncode == 0, p.stdout


# --- the recipes ----------------------------------------------------------------------------------

def pi_gen_config() -> dict[str, str]:
    """pi/config as pi-gen sees it: sourced by bash."""
    keys = ("IMG_NAME", "RELEASE", "STAGE_LIST", "ENABLE_SSH", "FIRST_USER_PASS", "DISABLE_FIRST_BOOT_USER_RENAME",
            "PUBKEY_ONLY_SSH")
    script = f'source "{IMAGE_BUILD / "pi/config"}"; ' + "; ".join(f'printf "%s=%s\\n" {k} "${{{k}-}}"' for k in keys)
    out = run("bash", "-c", script).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def test_pi_gen_builds_lite_then_the_alpr_stage_with_no_default_credentials():
    cfg = pi_gen_config()
    assert cfg["STAGE_LIST"] == "stage0 stage1 stage2 stage-alpr" and cfg["RELEASE"] == "bookworm"
    assert cfg["FIRST_USER_PASS"] == "" and cfg["DISABLE_FIRST_BOOT_USER_RENAME"] == "0", "the installer makes the account"
    assert cfg["ENABLE_SSH"] == "0"
    assert cfg["PUBKEY_ONLY_SSH"] == "", "pi-gen refuses PUBKEY_ONLY_SSH without a key baked in"
    stage = IMAGE_BUILD / "pi/stage-alpr"
    assert (stage / "EXPORT_IMAGE").is_file()
    packages = (stage / "00-alpr/00-packages").read_text().split()
    assert {"python3-picamera2", "python3-lgpio", "python3-venv", "nftables", "chrony"} <= set(packages)
    assert "--system-site-packages --extra pi" in (stage / "00-alpr/01-run.sh").read_text()


def test_jetson_installs_the_same_services():
    packages = [p for p in (IMAGE_BUILD / "jetson/packages.txt").read_text().split() if not p.startswith("#")]
    assert {"nftables", "chrony", "python3-venv"} <= set(packages)
    dropin = unit_settings(IMAGE_BUILD / "jetson/rootfs/usr/lib/systemd/system/alpr-run.service.d/50-jetson.conf")
    assert dropin["MemoryDenyWriteExecute"] == ["no"], "CUDA JIT needs W+X memory"


def test_the_starter_configs_pass_config_check():
    for board in ("pi", "jetson"):
        p = subprocess.run([sys.executable, "-m", "appliance", "config", "check",
                            str(IMAGE_BUILD / board / "rootfs/etc/alpr/alpr.toml")], capture_output=True, text=True, cwd=REPO)
        assert p.returncode == 0, p.stderr


# --- MemoryDenyWriteExecute= ------------------------------------------------------------------------

MDWE_PROBE = """
import ctypes, mmap, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:   # PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN
    sys.exit(77)
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X memory was allowed: the probe does not work")
except OSError:
    pass
import numpy as np, cv2, argon2, sqlcipher3
from appliance.recognition.detector import PlateDetector
from appliance.recognition.reader import PlateReader
frame = np.zeros((720, 1280, 3), np.uint8)
PlateDetector().detect(frame)
PlateReader().read([np.zeros((64, 128, 3), np.uint8)])
argon2.PasswordHasher(time_cost=1, memory_cost=1024).hash("x" * 16)
db = sqlcipher3.connect(":memory:"); db.execute("PRAGMA key = 'k'"); db.execute("create table t (x)")
print("ok")
"""


def test_the_device_code_runs_without_writable_executable_memory():
    """alpr-run.service sets MemoryDenyWriteExecute=yes: onnxruntime (CPU), OpenCV, Argon2 and
    SQLCipher must work without W+X memory. Linux's PR_SET_MDWE applies the same rule."""
    p = subprocess.run([sys.executable, "-c", MDWE_PROBE], capture_output=True, text=True, cwd=REPO, timeout=300)
    if p.returncode == 77:
        pytest.skip("this kernel has no PR_SET_MDWE (Linux >= 6.3)")
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


# --- the slow check: a real Debian root made by debootstrap (cached) --------------------------------

CI_ROOT = IMAGE_BUILD / ".cache/ci-rootfs"
CI_WHEELHOUSE = "/var/cache/alpr-wheelhouse"
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


def in_ci_root(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run in a chroot of the cached root, with its own /proc, mount and network namespaces
    (nothing leaks to this machine: the mounts vanish with the namespace)."""
    script = 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
    p = subprocess.run(["unshare", "--mount", "--net", "--fork", "sh", "-c", script, str(CI_ROOT), *args],
                       capture_output=True, text=True, env=CLEAN_ENV, timeout=600)
    if check and p.returncode != 0:
        pytest.fail(f"in the Debian root: {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def test_image_parts_in_a_debian_root(wheel):
    """What pi-gen's chroot step does, in a real Debian bookworm root: the full venv with every
    dependency (offline, from the cached wheels), install-rootfs.sh with the real nftables and
    chrony packages, then the root's own tools check the result."""
    if not (CI_ROOT / "etc/os-release").is_file() or not (CI_ROOT / CI_WHEELHOUSE.lstrip("/")).is_dir():
        pytest.skip("no cached Debian root: run `sudo image-build/ci/make-rootfs.sh` once (needs the Debian mirror and PyPI)")
    if os.geteuid() != 0:
        pytest.skip("chroot needs root")
    stage = CI_ROOT / "tmp/alpr-install"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(IMAGE_BUILD, stage / "image-build", ignore=shutil.ignore_patterns(".cache", "out"))
    shutil.copy(wheel, stage / wheel.name)
    key = CI_ROOT / "etc/alpr/credentials/store-key"
    try:
        in_ci_root("/tmp/alpr-install/image-build/shared/install-venv.sh", "--wheelhouse", CI_WHEELHOUSE,
                   f"/tmp/alpr-install/{wheel.name}")
        in_ci_root("/tmp/alpr-install/image-build/shared/install-rootfs.sh", "--board", "pi", "--root", "/")
        analyze = tool("systemd-analyze", "systemd")
        for unit in (*UNITS, "tmp.mount", "nftables.service", "chrony.service"):
            p = run(analyze, "verify", "--man=no", f"--root={CI_ROOT}", unit, check=False)
            assert p.returncode == 0 and not p.stderr.strip(), f"{unit}:\n{p.stderr}"
        for unit in UNITS:
            assert exposure(CI_ROOT, unit) <= MAX_EXPOSURE
        assert ": ok" in in_ci_root("/usr/local/bin/alpr", "config", "check", "/etc/alpr/alpr.toml").stdout
        assert "config" in in_ci_root("/usr/local/bin/alpr", "--help").stdout
        in_ci_root("sh", "-c", "cd / && sha256sum --check --quiet /opt/alpr/SHA256SUMS")
        in_ci_root("nft", "-c", "-f", "/etc/nftables.conf")  # the real include path, in a new network namespace
        assert "authselectmode require" in in_ci_root("chronyd", "-p", "-f", "/etc/chrony/chrony.conf").stdout
        # First boot: the key is made and sealed with this root's systemd-creds (host key; no TPM here).
        key.unlink(missing_ok=True)
        in_ci_root("/usr/lib/alpr/alpr-store-key", "/etc/alpr/credentials/store-key")
        opened = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c",
                                 'mount -t proc proc "$0/proc" && exec chroot "$0" systemd-creds decrypt --name=store-key '
                                 '/etc/alpr/credentials/store-key -', str(CI_ROOT)],
                                capture_output=True, env=CLEAN_ENV, timeout=60)
        assert opened.returncode == 0 and len(opened.stdout) == 32, opened.stderr
        enabled = {p.name for p in (CI_ROOT / "etc/systemd/system").glob("*.wants/*")}
        assert {"alpr-run.service", "alpr-store-key.service", "nftables.service", "chrony.service"} <= enabled
        assert os.readlink(CI_ROOT / "etc/systemd/system/systemd-timesyncd.service") == "/dev/null"
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        key.unlink(missing_ok=True)
