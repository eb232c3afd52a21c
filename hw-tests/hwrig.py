"""The rig under test: read from a rig TOML file or built as the simulated rig, plus the
lock that keeps two runs off one rig, and the waits the rig tests share. Imported by conftest.py
and the tests (not a test module)."""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 on JetPack 6
    import tomli as tomllib  # type: ignore[no-redef]

from firmware.io import IoPins

CAPABILITIES = ("camera", "gpio", "watchdog", "ir")  # ir: illuminator + IR-cut aimed at the target, dark
_OUTPUTS = ("ir_illuminator", "status_led", "alert_relay", "ir_cut")
_INPUTS = ("tamper_switch", "loop_detector")


class RigError(ValueError):
    """A rig file that cannot describe a rig; the message names the field and what is allowed."""


@dataclass
class Rig:
    name: str
    capabilities: frozenset[str]
    io_backend: str = "simulated"
    pins: IoPins = field(default_factory=IoPins)
    loopback: dict[str, str] = field(default_factory=dict)  # output name -> input name
    camera: dict[str, Any] = field(default_factory=dict)  # make_camera(**camera)
    watchdog_device: str | None = None
    gpiod_chip: str = "/dev/gpiochip0"  # io backend gpiod: the chip whose line offsets the pins are
    lock_path: Path = Path(tempfile.gettempdir()) / "alpr-rig.lock"

    @property
    def simulated(self) -> bool:
        return self.io_backend == "simulated"

    def driver_options(self) -> dict[str, Any]:
        """For the simulated rig, the mock pins wired as the loopback table says."""
        if self.io_backend == "gpiod":
            return {"chip": self.gpiod_chip}
        if not self.simulated:
            return {}
        pin = vars(self.pins)
        return {"loopback": {pin[o]: pin[i] for o, i in self.loopback.items()}}


def simulated_rig(frames_source: Any) -> Rig:
    """Mock pins wired in loopback (relay -> loop detector, LED -> tamper) and a replay camera."""
    return Rig(name="sim", capabilities=frozenset(CAPABILITIES), io_backend="simulated",
               pins=IoPins(ir_illuminator=18, status_led=27, alert_relay=17, tamper_switch=22, loop_detector=23,
                           ir_cut=24),
               loopback={"alert_relay": "loop_detector", "status_led": "tamper_switch"},
               camera={"backend": "replay", "source": frames_source, "fps": 20.0, "loop": True},
               lock_path=Path(tempfile.gettempdir()) / f"alpr-rig-sim-{os.getpid()}.lock")


def load_rig(path: Path) -> Rig:
    """Read a rig TOML file (format in hw-tests/README.md)."""
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RigError(f"cannot read rig file {path}: {exc}") from None
    unknown = set(doc) - {"name", "capabilities", "lock", "io", "loopback", "camera", "watchdog_device"}
    if unknown:
        raise RigError(f"rig file {path}: unknown keys {sorted(unknown)}; allowed: name, capabilities, lock, "
                       "io, loopback, camera, watchdog_device")
    caps = doc.get("capabilities", [])
    bad = [c for c in caps if c not in CAPABILITIES]
    if bad:
        raise RigError(f"rig file {path}: capabilities {bad} unknown; allowed: {', '.join(CAPABILITIES)}")
    io = dict(doc.get("io", {}))
    backend = io.pop("backend", "gpiozero")
    chip = io.pop("gpiod_chip", "/dev/gpiochip0")
    try:
        pins = IoPins(**io).check()
    except TypeError:
        raise RigError(f"rig file {path}: [io] holds backend and the pins "
                       f"{', '.join(_OUTPUTS + _INPUTS)}; got {sorted(io)}") from None
    loop = doc.get("loopback", {})
    for out, inp in loop.items():
        if out not in _OUTPUTS or inp not in _INPUTS or getattr(pins, out) is None or getattr(pins, inp) is None:
            raise RigError(f"rig file {path}: [loopback] {out} = {inp!r} must wire a set output pin "
                           f"({', '.join(_OUTPUTS)}) to a set input pin ({', '.join(_INPUTS)})")
    return Rig(name=doc.get("name", path.stem), capabilities=frozenset(caps), io_backend=backend, pins=pins,
               loopback=dict(loop), camera=dict(doc.get("camera", {})),
               watchdog_device=doc.get("watchdog_device"), gpiod_chip=chip,
               lock_path=Path(doc.get("lock", Path(tempfile.gettempdir()) / f"alpr-rig-{path.stem}.lock")))


class RigBusy(RuntimeError):
    """Another run holds the rig."""


class RigLock:
    """An exclusive flock on the rig's lock file, released when the process ends anyway."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another run"
            os.close(fd)
            raise RigBusy(f"the rig is in use by {holder} (lock file {self.path}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def wait_for(predicate, timeout: float = 2.0) -> bool:
    """Poll `predicate` every 5 ms until true or `timeout` s pass (rig tests run in real time)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.005)
    return predicate()


def need_loop(rig: Rig, out: str, inp: str) -> None:
    """Skip the calling test unless the rig wires output `out` back to input `inp`."""
    import pytest

    if rig.loopback.get(out) != inp:
        pytest.skip(f"rig {rig.name!r} does not wire {out} to {inp} ([loopback] in the rig file)")
