"""Time for cameras: monotonic, UTC, sleeping, and whether the wall clock can be trusted.

Cameras take one `Clock` so tests can drive time (`ManualClock`) instead of waiting, and
control the clock-sync flag that every Frame carries. A Pi 4 has no real-time clock: until
NTP/PTP has synchronised it, its UTC date can be days off, and reads stamped with it must
say so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol

log = logging.getLogger(__name__)

_STA_UNSYNC = 0x0040  # <linux/timex.h>: the kernel's "clock not synchronised" status bit
_TIME_ERROR = 5  # adjtimex() return value when the clock is not synchronised
_MAXERROR_LIMIT_US = 16_000_000  # systemd's ntp_synced(): maxerror >= 16 s means not synced


class Clock(Protocol):
    """What a camera needs to know about time."""

    def monotonic(self) -> float:
        """Seconds that never jump (orders frames, paces replay, schedules reconnects)."""

    def utc(self) -> datetime:
        """Timezone-aware UTC now (what reads are stamped with)."""

    def synced(self) -> bool:
        """True when the system clock is known to be synchronised (NTP/PTP)."""

    def sleep(self, seconds: float) -> None:
        """Wait; a fake clock advances instead."""


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; `long` follows the platform (32-bit on armhf).
    # Only `modes` (0 = read-only query), `maxerror` and `status` are used; the padding is
    # generous so a larger kernel/libc struct never writes past our buffer.
    _fields_ = [
        ("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
        ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_byte * 256),
    ]


def _adjtimex_synced() -> bool | None:
    """The kernel's own answer (what timedatectl reports), or None when it cannot be asked."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        tx = _Timex()  # zeroed: modes = 0 asks without changing anything (no privilege needed)
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError) as exc:
        log.debug("adjtimex unavailable: %s", exc)
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR and not (tx.status & _STA_UNSYNC) and tx.maxerror < _MAXERROR_LIMIT_US


def _timedatectl_synced() -> bool | None:
    """systemd's answer, for systems where adjtimex cannot be called."""
    exe = shutil.which("timedatectl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "show", "-p", "NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("timedatectl failed: %s", exc)
        return None
    value = out.stdout.strip().lower()
    return {"yes": True, "no": False}.get(value) if out.returncode == 0 else None


def clock_synced() -> bool:
    """True when the system clock is synchronised; False when not, or when nobody can tell."""
    for ask in (_adjtimex_synced, _timedatectl_synced):
        answer = ask()
        if answer is not None:
            return answer
    return False


class SystemClock:
    """The real clock. The sync state is re-checked at most every `sync_ttl` seconds,
    because cameras stamp every frame and the check may start a subprocess."""

    def __init__(self, sync_ttl: float = 10.0, check=clock_synced) -> None:
        self.sync_ttl = sync_ttl
        self._check = check
        self._lock = threading.Lock()
        self._cached: tuple[float, bool] | None = None

    def monotonic(self) -> float:
        return time.monotonic()

    def utc(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def synced(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._cached is None or now - self._cached[0] >= self.sync_ttl:
                self._cached = (now, bool(self._check()))
            return self._cached[1]


class ManualClock:
    """A clock tests drive: `sleep` advances time at once and records how long was asked."""

    def __init__(self, start: float = 1000.0, synced: bool = True,
                 utc_start: datetime = datetime(2025, 1, 1, tzinfo=timezone.utc)) -> None:
        self.now = start
        self.is_synced = synced
        self._start = start
        self._utc_start = utc_start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return self._utc_start + timedelta(seconds=self.now - self._start)

    def synced(self) -> bool:
        return self.is_synced

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        """Let time pass without it being recorded as a sleep."""
        self.now += seconds
