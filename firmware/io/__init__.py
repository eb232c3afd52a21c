"""Pins for the illuminator, status LED, alert relay, tamper switch and loop detector,
behind one interface (`Outputs`, `Inputs`), with the backend chosen by name.

`BACKENDS` maps each name to "module:Class" of a pin driver; `make_io` imports only the
one asked for (as `make_camera` does), so gpiozero or Jetson.GPIO are needed only where
used. Timing (patterns, pulses, debouncing) is shared: see `board.py`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from firmware.io.base import (
    Inputs,
    IoBackendMissing,
    IoConfigError,
    IoError,
    IoPins,
    LedPattern,
    Outputs,
    TamperEvent,
    TriggerEvent,
)
from firmware.io.board import IoBoard
from firmware.io.debounce import Debouncer

BACKENDS: dict[str, str] = {
    "gpiozero": "firmware.io.gpiozero_pins:GpiozeroPins",
    "jetson": "firmware.io.jetson:JetsonPins",
    "gpiod": "firmware.io.gpiod_pins:GpiodPins",
    "simulated": "firmware.io.gpiozero_pins:SimulatedPins",
}


def make_io(backend: str, pins: IoPins, *, driver_options: dict[str, Any] | None = None,
            **board_options: Any) -> IoBoard:
    """An IoBoard on the `backend` pin driver (built with `driver_options`) for `pins`."""
    if backend not in BACKENDS:
        raise IoConfigError(f"io backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    module_name, class_name = BACKENDS[backend].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    pins.check()  # before the driver claims any pin
    options = driver_options or {}
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        accepted = ", ".join(inspect.signature(cls).parameters) or "no options"
        raise IoConfigError(f"io backend {backend!r}: {exc}; it accepts {accepted}") from None
    return IoBoard(cls(**options), pins, **board_options)


__all__ = [
    "BACKENDS", "Debouncer", "Inputs", "IoBackendMissing", "IoBoard", "IoConfigError", "IoError",
    "IoPins", "LedPattern", "Outputs", "TamperEvent", "TriggerEvent", "make_io",
]
