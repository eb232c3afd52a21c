"""Pins through Jetson.GPIO, because gpiozero needs a Raspberry Pi revision code and does
not run on a Jetson. Pin numbers are physical header pins (BOARD mode, 1-40), the
numbering NVIDIA's pinmux tables use; PWM is hardware PWM and only on the pins enabled
with jetson-io (e.g. 32 and 33 on an Orin Nano), so the illuminator falls back to on/off.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from firmware.io.base import IoBackendMissing

log = logging.getLogger(__name__)


def import_jetson_gpio() -> Any:
    """Jetson.GPIO, or IoBackendMissing naming the [jetson] extra."""
    try:
        return importlib.import_module("Jetson.GPIO")
    except ModuleNotFoundError as exc:
        if exc.name not in ("Jetson", "Jetson.GPIO"):
            raise
        raise IoBackendMissing("io backend 'jetson' needs Jetson.GPIO: install the [jetson] extra "
                               "(pip install 'alpr-appliance[jetson]') on a Jetson, and add the "
                               "service user to the gpio group") from None


class _Out:
    def __init__(self, gpio: Any, pin: int, pwm: Any | None) -> None:
        self.gpio, self.pin, self.pwm = gpio, pin, pwm

    def set(self, level: float) -> None:
        if self.pwm is not None:
            self.pwm.ChangeDutyCycle(100.0 * level)
        else:
            self.gpio.output(self.pin, self.gpio.HIGH if level >= 0.5 else self.gpio.LOW)

    def close(self) -> None:
        if self.pwm is not None:
            self.pwm.stop()


class _In:
    def __init__(self, gpio: Any, pin: int) -> None:
        self.gpio, self.pin = gpio, pin

    def read(self) -> bool:
        return self.gpio.input(self.pin) == self.gpio.HIGH

    def close(self) -> None:
        pass


class JetsonPins:
    """A PinDriver over Jetson.GPIO in BOARD numbering."""

    def __init__(self, pwm_frequency: float = 200.0) -> None:
        self.gpio = import_jetson_gpio()
        self.gpio.setmode(self.gpio.BOARD)
        self.gpio.setwarnings(False)
        self.pwm_frequency = pwm_frequency
        self._pins: list[Any] = []
        self._channels: list[int] = []

    def output(self, pin: int, *, pwm: bool) -> _Out:
        g = self.gpio
        g.setup(pin, g.OUT, initial=g.LOW)
        self._channels.append(pin)
        driver = None
        if pwm:
            try:
                driver = g.PWM(pin, self.pwm_frequency)
                driver.start(0.0)
            except (ValueError, RuntimeError) as exc:  # not a PWM-capable pin on this board
                log.warning("pin %s cannot do PWM (%s): the illuminator will be on/off only", pin, exc)
                driver = None
        out = _Out(g, pin, driver)
        self._pins.append(out)
        return out

    def input(self, pin: int, *, pull_up: bool) -> _In:
        # Most Jetson header pins have no usable internal pull-up: fit an external 10k
        # resistor (hw-tests/README.md); Jetson.GPIO accepts but may ignore pull_up_down.
        g = self.gpio
        g.setup(pin, g.IN)
        self._channels.append(pin)
        return _In(g, pin)

    def close(self) -> None:
        for out in self._pins:
            out.close()
        self._pins.clear()
        if self._channels:
            self.gpio.cleanup(self._channels)
            self._channels = []
