"""Health sensors: CPU temperature, Pi throttling, disk use, eMMC wear and clock sync.

Each reader returns None when the machine cannot tell (no thermal zone in a container,
no `vcgencmd` off a Pi) rather than raising, because the health page must render on
every board. Paths and the command runner are parameters so tests use a fake sysfs tree
and canned output.
"""

from __future__ import annotations

import enum
import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware.camera.clock import clock_synced

log = logging.getLogger(__name__)

THERMAL_ROOT = Path("/sys/class/thermal")
MMC_ROOT = Path("/sys/class/mmc_host")


class Level(enum.IntEnum):
    """Worst-wins health level; the LED shows RUNNING, DEGRADED or FAULT from it."""

    OK = 0
    DEGRADED = 1
    FAULT = 2


def cpu_temperature(root: Path = THERMAL_ROOT) -> float | None:
    """The hottest thermal zone in degrees C (sysfs holds millidegrees); None if none readable."""
    temps = []
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            temps.append(int((zone / "temp").read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue  # some zones (e.g. a sleeping GPU on a Jetson) refuse reads
    return max(temps) if temps else None


# vcgencmd get_throttled: bits 0-3 now, 16-19 the same since boot.
_THROTTLE_BITS = {0: "under_voltage", 1: "arm_freq_capped", 2: "throttled", 3: "soft_temp_limit"}


@dataclass(frozen=True)
class Throttling:
    """Decoded `vcgencmd get_throttled` flags."""

    raw: int
    now: frozenset[str]
    since_boot: frozenset[str]


def parse_throttled(text: str) -> Throttling:
    """Parse "throttled=0x50005"; ValueError names the expected form."""
    key, _, value = text.strip().partition("=")
    try:
        if key != "throttled":
            raise ValueError
        raw = int(value, 16)
    except ValueError:
        raise ValueError(f"vcgencmd get_throttled printed {text.strip()!r}; expected 'throttled=0x<hex>'") from None
    now = frozenset(name for bit, name in _THROTTLE_BITS.items() if raw >> bit & 1)
    since = frozenset(name for bit, name in _THROTTLE_BITS.items() if raw >> (bit + 16) & 1)
    return Throttling(raw, now, since)


Runner = Callable[[list[str]], str]


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=2, check=True).stdout


def pi_throttling(run: Runner = _run, which: Callable[[str], str | None] = shutil.which) -> Throttling | None:
    """The Pi firmware's throttling flags; None off a Pi or when vcgencmd fails."""
    exe = which("vcgencmd")
    if exe is None:
        return None
    try:
        return parse_throttled(run([exe, "get_throttled"]))
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.debug("vcgencmd get_throttled failed: %s", exc)
        return None


@dataclass(frozen=True)
class Disk:
    path: str
    total: int
    used: int
    free: int

    @property
    def used_fraction(self) -> float:
        return self.used / self.total if self.total else 0.0


def disk_use(path: str | Path = "/var/lib/alpr") -> Disk | None:
    """Use of the file system holding `path` (the nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        u = shutil.disk_usage(p)
    except OSError:
        return None
    return Disk(str(p), u.total, u.used, u.free)


def emmc_wear(root: Path = MMC_ROOT) -> dict[str, int] | None:
    """eMMC wear: life_time_a/b in tenths of rated life used (1 = 0-10 %, 11 = past it),
    pre_eol 1 normal / 2 warning / 3 urgent; None where the card does not say (SD cards)."""
    for dev in sorted(root.glob("mmc*/mmc*:*")):
        try:
            a, b = (int(x, 16) for x in (dev / "life_time").read_text().split())
            eol = int((dev / "pre_eol_info").read_text().strip(), 16)
        except (OSError, ValueError):
            continue
        return {"life_time_a": a, "life_time_b": b, "pre_eol": eol}
    return None


@dataclass(frozen=True)
class Limits:
    temp_degraded: float = 80.0  # the Pi 4/5 soft limit starts at 80 C
    temp_fault: float = 85.0  # hard throttling
    disk_degraded: float = 0.90
    disk_fault: float = 0.98


@dataclass(frozen=True)
class HealthReport:
    cpu_temp_c: float | None
    throttling: Throttling | None
    disk: Disk | None
    emmc: dict[str, int] | None
    clock_synced: bool
    level: Level
    reasons: tuple[str, ...]


def judge(temp: float | None, thr: Throttling | None, disk: Disk | None, emmc: dict[str, int] | None,
          synced: bool, limits: Limits = Limits()) -> tuple[Level, tuple[str, ...]]:
    """The worst level and the reasons for it."""
    found: list[tuple[Level, str]] = []
    if temp is not None and temp >= limits.temp_fault:
        found.append((Level.FAULT, f"CPU at {temp:.0f} C"))
    elif temp is not None and temp >= limits.temp_degraded:
        found.append((Level.DEGRADED, f"CPU at {temp:.0f} C"))
    if thr is not None and thr.now:
        found.append((Level.DEGRADED, "throttling now: " + ", ".join(sorted(thr.now))))
    if disk is not None and disk.used_fraction >= limits.disk_fault:
        found.append((Level.FAULT, f"disk {disk.used_fraction:.0%} full"))
    elif disk is not None and disk.used_fraction >= limits.disk_degraded:
        found.append((Level.DEGRADED, f"disk {disk.used_fraction:.0%} full"))
    if emmc is not None and emmc["pre_eol"] >= 2:
        found.append((Level.DEGRADED, "eMMC near end of life"))
    if not synced:
        found.append((Level.DEGRADED, "clock not synchronised"))
    level = max((lv for lv, _ in found), default=Level.OK)
    return level, tuple(reason for _, reason in found)


def read_health(*, thermal_root: Path = THERMAL_ROOT, mmc_root: Path = MMC_ROOT,
                data_path: str | Path = "/var/lib/alpr", run: Runner = _run,
                which: Callable[[str], str | None] = shutil.which,
                synced: Callable[[], bool] = clock_synced, limits: Limits = Limits()) -> HealthReport:
    """Read every sensor once and judge the result."""
    temp, thr = cpu_temperature(thermal_root), pi_throttling(run, which)
    disk, emmc, is_synced = disk_use(data_path), emmc_wear(mmc_root), synced()
    level, reasons = judge(temp, thr, disk, emmc, is_synced, limits)
    return HealthReport(temp, thr, disk, emmc, is_synced, level, reasons)
