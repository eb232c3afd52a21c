"""Pins through libgpiod (the `gpiod` Python bindings, v2 API), for a Jetson or any Linux
board where gpiozero does not run: the kernel's GPIO character device, no board database.

Pin numbers are line offsets on one chip (`chip`, e.g. "/dev/gpiochip0"; `gpioinfo` lists
them with their names), so the same numbers work on every board whose chip is known.
Each pin is its own line request, released on close. libgpiod has no PWM: the illuminator
is switched on at level >= 0.5 and off below (use a board PWM pin through the jetson
backend for dimming). gpiod is imported only here.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

from firmware.io.base import IoBackendMissing, IoConfigError

log = logging.getLogger(__name__)

CONSUMER = "alpr"


def chip_exists(path: str) -> bool:
    """Whether the GPIO chip device is there (tests replace this: no /dev/gpiochip on CI)."""
    return os.path.exists(path)


def import_gpiod() -> Any:
    """gpiod (v2 bindings), or IoBackendMissing naming the extra to install."""
    try:
        gpiod = importlib.import_module("gpiod")
    except ModuleNotFoundError as exc:
        if exc.name != "gpiod":
            raise
        raise IoBackendMissing("io backend 'gpiod' needs the libgpiod Python bindings: install the [gpiod] extra "
                               "(pip install 'alpr-appliance[gpiod]', gpiod >= 2.0), and add the service user "
                               "to the gpio group") from None
    if not hasattr(gpiod, "request_lines"):  # the 1.x bindings (apt python3-libgpiod on older distros)
        raise IoBackendMissing(f"io backend 'gpiod' needs gpiod >= 2.0 (request_lines); found "
                               f"{getattr(gpiod, '__version__', 'an older version')}: install the [gpiod] extra")
    return gpiod


class _Out:
    def __init__(self, gpiod: Any, request: Any, line: int) -> None:
        self.value, self.request, self.line = gpiod.line.Value, request, line

    def set(self, level: float) -> None:
        self.request.set_value(self.line, self.value.ACTIVE if level >= 0.5 else self.value.INACTIVE)

    def close(self) -> None:
        self.request.release()


class _In:
    def __init__(self, gpiod: Any, request: Any, line: int) -> None:
        self.value, self.request, self.line = gpiod.line.Value, request, line

    def read(self) -> bool:
        return self.request.get_value(self.line) == self.value.ACTIVE

    def close(self) -> None:
        self.request.release()


class GpiodPins:
    """A PinDriver over one GPIO chip's lines; `chip` is a /dev/gpiochipN path."""

    def __init__(self, chip: str = "/dev/gpiochip0") -> None:
        if not isinstance(chip, str) or not chip.startswith("/dev/gpiochip"):
            raise IoConfigError(f"io.gpiod_chip must be a GPIO chip device such as /dev/gpiochip0; got {chip!r}")
        self.gpiod = import_gpiod()
        if not chip_exists(chip):
            raise IoConfigError(f"io.gpiod_chip {chip} does not exist here; `gpiodetect` lists this board's chips")
        self.chip = chip
        self._pins: list[_Out | _In] = []

    def output(self, pin: int, *, pwm: bool) -> _Out:
        g = self.gpiod
        if pwm:
            log.info("gpiod line %s: no PWM through libgpiod, the illuminator is on/off only", pin)
        settings = g.LineSettings(direction=g.line.Direction.OUTPUT, output_value=g.line.Value.INACTIVE)
        out = _Out(g, self._request(pin, settings), pin)
        self._pins.append(out)
        return out

    def input(self, pin: int, *, pull_up: bool) -> _In:
        # No debounce_period: debouncing is ours (board.py), the same on every backend.
        g = self.gpiod
        settings = g.LineSettings(direction=g.line.Direction.INPUT,
                                  bias=g.line.Bias.PULL_UP if pull_up else g.line.Bias.PULL_DOWN)
        inp = _In(g, self._request(pin, settings), pin)
        self._pins.append(inp)
        return inp

    def close(self) -> None:
        while self._pins:
            try:
                self._pins.pop().close()
            except OSError as exc:  # releasing is best effort: the process is going anyway
                log.debug("gpiod release failed: %s", exc)

    def _request(self, line: int, settings: Any) -> Any:
        try:
            return self.gpiod.request_lines(self.chip, consumer=CONSUMER, config={line: settings})
        except ValueError as exc:  # an offset the chip does not have
            raise IoConfigError(f"{self.chip} has no line {line} ({exc}); `gpioinfo {self.chip}` "
                                "lists its lines") from None
        except OSError as exc:  # busy (another consumer) or no permission
            raise IoConfigError(f"cannot claim line {line} of {self.chip}: {exc}; check `gpioinfo` for another "
                                "consumer and that the service user is in the gpio group") from None
