"""Pins through gpiozero: the Raspberry Pi backend (lgpio on a Pi 5), and the simulated
one (gpiozero's MockFactory with PWM-capable mock pins).

gpiozero is imported only here, so a Jetson never needs it. The pin factory is passed
in (gpiozero's own `pin_factory=`), or named ("lgpio", "rpigpio", "mock"); by default
gpiozero picks one itself, which on a Pi 5 is lgpio, and lgpio finds the right GPIO chip.
Pin numbers are Broadcom (BCM) GPIO numbers, as gpiozero uses them.
"""

from __future__ import annotations

import importlib
from typing import Any

from firmware.io.base import IoBackendMissing, IoConfigError

_FACTORIES = {
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
    "mock": "gpiozero.pins.mock:MockFactory",
}


def import_gpiozero() -> Any:
    """gpiozero, or IoBackendMissing naming the extra to install."""
    try:
        return importlib.import_module("gpiozero")
    except ModuleNotFoundError as exc:
        if exc.name != "gpiozero":
            raise
        raise IoBackendMissing("io backend 'gpiozero' needs gpiozero: install the [pi] extra "
                               "(pip install 'alpr-appliance[pi]') on a Raspberry Pi, or use io "
                               "backend 'simulated' for tests") from None


class _Out:
    def __init__(self, device: Any) -> None:
        self.device = device

    def set(self, level: float) -> None:
        self.device.value = level

    def close(self) -> None:
        self.device.close()


class _In:
    def __init__(self, device: Any) -> None:
        self.device = device

    def read(self) -> bool:
        # The pin's electrical level, not gpiozero's "active" (which pull_up inverts).
        return bool(self.device.pin.state)

    def close(self) -> None:
        self.device.close()


class GpiozeroPins:
    """A PinDriver over gpiozero devices; `pin_factory` is a gpiozero Factory or a name."""

    def __init__(self, pin_factory: Any = None, pwm_frequency: float = 200.0) -> None:
        self.gpiozero = import_gpiozero()
        self.factory = _factory(pin_factory)
        self.pwm_frequency = pwm_frequency
        self._devices: list[Any] = []

    def output(self, pin: int, *, pwm: bool) -> _Out:
        gz = self.gpiozero
        if pwm:
            device = gz.PWMOutputDevice(pin, frequency=self.pwm_frequency, pin_factory=self.factory)
        else:
            device = gz.DigitalOutputDevice(pin, pin_factory=self.factory)
        self._devices.append(device)
        return _Out(device)

    def input(self, pin: int, *, pull_up: bool) -> _In:
        # No bounce_time: debouncing is ours (board.py), the same on every backend.
        device = self.gpiozero.DigitalInputDevice(pin, pull_up=pull_up, pin_factory=self.factory)
        self._devices.append(device)
        return _In(device)

    def close(self) -> None:
        while self._devices:
            self._devices.pop().close()


def _factory(spec: Any) -> Any:
    if spec is None or not isinstance(spec, str):
        return spec
    if spec not in _FACTORIES:
        raise IoConfigError(f"gpiozero pin factory must be one of {', '.join(_FACTORIES)}; got {spec!r}")
    module, name = _FACTORIES[spec].split(":")
    try:
        return getattr(importlib.import_module(module), name)()
    except ImportError as exc:
        raise IoBackendMissing(f"gpiozero pin factory {spec!r} cannot load ({exc}); on a Pi 5 "
                               "install lgpio (the [pi] extra does)") from None


class SimulatedPins(GpiozeroPins):
    """gpiozero on its MockFactory: drive inputs with `pin(n).drive_high()`, read outputs
    with `pin(n).state`. `loopback` wires output pins to input pins ({relay: trigger}),
    as a jumper does on a hardware rig, so driving the output drives the input."""

    def __init__(self, loopback: dict[int, int] | None = None) -> None:
        gz = import_gpiozero()
        from gpiozero.pins.mock import MockFactory, MockPWMPin

        class LoopbackPin(MockPWMPin):
            # gpiozero's MockConnectedPin, but PWM-capable like every other pin here (the
            # factory refuses to mix the two kinds); any level above zero reads high.
            def __init__(self, factory: Any, info: Any, input_pin: Any = None) -> None:
                super().__init__(factory, info)
                self.input_pin = input_pin

            def _change_state(self, value: Any) -> Any:
                if self.input_pin is not None:
                    self.input_pin.drive_high() if value else self.input_pin.drive_low()
                return super()._change_state(value)

        super().__init__(pin_factory=MockFactory(pin_class=MockPWMPin))
        self.gpiozero = gz
        for out, inp in (loopback or {}).items():
            # Both pins must be made before gpiozero asks for them; the factory caches pins.
            self.factory.pin(out, pin_class=LoopbackPin, input_pin=self.factory.pin(inp))

    def pin(self, number: int) -> Any:
        """The mock pin behind `number` (for tests and the simulated rig)."""
        return self.factory.pin(number)

    def close(self) -> None:
        super().close()
        self.factory.reset()
