"""Health readers against a fake sysfs tree and canned vcgencmd output."""

from __future__ import annotations

import subprocess

import pytest

from firmware.health import (
    Disk,
    Level,
    cpu_temperature,
    disk_use,
    emmc_wear,
    judge,
    parse_throttled,
    pi_throttling,
    read_health,
)


def thermal(tmp_path, *millideg):
    root = tmp_path / "thermal"
    for i, value in enumerate(millideg):
        (root / f"thermal_zone{i}").mkdir(parents=True)
        (root / f"thermal_zone{i}" / "temp").write_text(f"{value}\n")
    return root


def test_cpu_temperature_is_hottest_zone(tmp_path):
    root = thermal(tmp_path, 48312, 61500)
    (root / "thermal_zone2").mkdir()
    (root / "thermal_zone2" / "temp").write_text("not available\n")  # ignored
    assert cpu_temperature(root) == pytest.approx(61.5)
    assert cpu_temperature(tmp_path / "absent") is None


def test_throttled_flags():
    t = parse_throttled("throttled=0x50005\n")
    assert t.now == {"under_voltage", "throttled"} and t.since_boot == {"under_voltage", "throttled"}
    t = parse_throttled("throttled=0x80000")
    assert t.now == frozenset() and t.since_boot == {"soft_temp_limit"}
    with pytest.raises(ValueError, match="expected 'throttled=0x<hex>'"):
        parse_throttled("VCHI initialization failed")


def test_vcgencmd_where_present():
    calls = []

    def run(argv):
        calls.append(argv)
        return "throttled=0x1\n"
    assert pi_throttling(run, which=lambda n: "/usr/bin/vcgencmd").now == {"under_voltage"}
    assert calls == [["/usr/bin/vcgencmd", "get_throttled"]]
    assert pi_throttling(run, which=lambda n: None) is None

    def fails(argv):
        raise subprocess.CalledProcessError(255, argv)
    assert pi_throttling(fails, which=lambda n: "/usr/bin/vcgencmd") is None


def test_disk_use_of_nearest_existing_parent(tmp_path):
    d = disk_use(tmp_path / "not" / "yet")
    assert d.path == str(tmp_path) and d.total > 0 and 0 <= d.used_fraction <= 1


def test_emmc_wear(tmp_path):
    dev = tmp_path / "mmc_host" / "mmc0" / "mmc0:0001"
    dev.mkdir(parents=True)
    (dev / "life_time").write_text("0x02 0x01\n")
    (dev / "pre_eol_info").write_text("0x01\n")
    assert emmc_wear(tmp_path / "mmc_host") == {"life_time_a": 2, "life_time_b": 1, "pre_eol": 1}
    assert emmc_wear(tmp_path / "none") is None


def test_judge_levels():
    disk = Disk("/", 100, 50, 50)
    assert judge(55.0, None, disk, None, True) == (Level.OK, ())
    assert judge(82.0, None, disk, None, True) == (Level.DEGRADED, ("CPU at 82 C",))
    level, reasons = judge(86.0, parse_throttled("throttled=0x4"), Disk("/", 100, 99, 1), None, False)
    assert level is Level.FAULT
    assert reasons == ("CPU at 86 C", "throttling now: throttled", "disk 99% full", "clock not synchronised")


def test_read_health_on_fake_tree(tmp_path):
    r = read_health(thermal_root=thermal(tmp_path, 70000), mmc_root=tmp_path / "none", data_path=tmp_path,
                    run=lambda argv: "throttled=0x0", which=lambda n: "/bin/vcgencmd", synced=lambda: True)
    assert r.cpu_temp_c == 70.0 and r.throttling.raw == 0 and r.clock_synced
    assert r.level in (Level.OK, Level.DEGRADED, Level.FAULT)  # disk fill depends on this machine
    assert all("CPU" not in reason and "clock" not in reason for reason in r.reasons)
