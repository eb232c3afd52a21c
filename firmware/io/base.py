"""The IO interface: `Outputs` (illuminator, status LED, alert relay) and `Inputs` (tamper
switch, loop detector), the pin drivers backends provide, the events, and the IO errors.

Backends only know how to set and read one pin (`OutputPin`, `InputPin`); the timing
that matters (LED patterns, relay pulse length, debouncing) lives once in `board.py`,
driven by an injectable clock, so it behaves the same on a Pi, a Jetson and mock pins.
Errors live here because `firmware/` imports nothing of the appliance.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


class IoError(Exception):
    """Base of every error the IO layer raises on purpose."""


class IoConfigError(IoError, ValueError):
    """Impossible IO settings (unknown backend, a pin used twice, a level outside 0..1)."""


class IoBackendMissing(IoError, ImportError):
    """The library a backend needs is not installed; the message names the extra."""


class LedPattern(enum.Enum):
    """What the status LED says; each value is its repeating (level, seconds) steps."""

    OFF = ((0.0, 1.0),)
    STARTING = ((1.0, 0.5), (0.0, 0.5))  # slow blink
    RUNNING = ((1.0, 1.0),)  # steady on
    DEGRADED = ((1.0, 1.5), (0.0, 0.5))  # mostly on, a short gap: look when you pass
    FAULT = ((1.0, 0.1), (0.0, 0.1))  # fast blink
    ALERT = ((1.0, 0.1), (0.0, 0.1), (1.0, 0.1), (0.0, 0.1), (1.0, 0.1), (0.0, 0.5))  # triple flash

    @property
    def period(self) -> float:
        return sum(seconds for _, seconds in self.value)

    def level_at(self, elapsed: float) -> float:
        """The LED level `elapsed` seconds after the pattern started."""
        t = elapsed % self.period
        for level, seconds in self.value:
            if t < seconds:
                return level
            t -= seconds
        return self.value[-1][0]


@dataclass(frozen=True)
class IoPins:
    """Which pin drives or reads what; None = not fitted. Mirrors the config's [io] table."""

    ir_illuminator: int | None = None
    status_led: int | None = None
    alert_relay: int | None = None
    tamper_switch: int | None = None
    loop_detector: int | None = None
    ir_cut: int | None = None  # IR-cut filter actuator: high = filter in (day)

    def check(self) -> IoPins:
        """Raise IoConfigError for a negative, non-integer or shared pin."""
        seen: dict[int, str] = {}
        for name, pin in vars(self).items():
            if pin is None:
                continue
            if isinstance(pin, bool) or not isinstance(pin, int) or pin < 0:
                raise IoConfigError(f"io pin {name} must be a pin number >= 0 or unset; got {pin!r}")
            if pin in seen:
                raise IoConfigError(f"io pins {seen[pin]} and {name} both use pin {pin}; each device needs its own pin")
            seen[pin] = name
        return self


@dataclass(frozen=True)
class TamperEvent:
    """The enclosure door changed state (after debouncing)."""

    opened: bool  # True: door opened; False: closed again
    monotonic: float
    utc: datetime
    clock_synced: bool


@dataclass(frozen=True)
class TriggerEvent:
    """The loop detector (or another trigger) fired: capture a burst of frames."""

    monotonic: float
    utc: datetime
    clock_synced: bool
    burst_frames: int
    burst_seconds: float


class OutputPin(Protocol):
    """One output as a backend drives it."""

    def set(self, level: float) -> None:
        """0.0 = off, 1.0 = fully on; in between only on a PWM pin."""

    def close(self) -> None: ...


class InputPin(Protocol):
    """One input as a backend reads it (raw, undebounced; True = electrically high)."""

    def read(self) -> bool: ...

    def close(self) -> None: ...


class PinDriver(Protocol):
    """What a backend provides: pins by number."""

    def output(self, pin: int, *, pwm: bool) -> OutputPin: ...

    def input(self, pin: int, *, pull_up: bool) -> InputPin: ...

    def close(self) -> None: ...


@runtime_checkable
class Outputs(Protocol):
    """The appliance's outputs."""

    def set_illuminator(self, level: float) -> None:
        """IR illuminator brightness, 0.0 (off) to 1.0."""

    def set_led(self, pattern: LedPattern) -> None:
        """Show `pattern` on the status LED until another is set."""

    def pulse_relay(self, seconds: float) -> None:
        """Close the alert relay for `seconds` (a new pulse extends a running one)."""

    def set_ir_cut(self, inserted: bool) -> None:
        """IR-cut filter in (day) or out (night, so the illuminator's IR reaches the sensor)."""


@runtime_checkable
class Inputs(Protocol):
    """The appliance's inputs, delivered as debounced events."""

    def on_tamper(self, callback: Callable[[TamperEvent], None]) -> None: ...

    def on_trigger(self, callback: Callable[[TriggerEvent], None]) -> None: ...

    def door_open(self) -> bool | None:
        """The debounced door state; None while not yet settled or no switch fitted."""
