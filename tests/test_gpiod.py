"""The libgpiod backend with the library faked at its edge: line requests, levels, bias, errors.

The fake follows gpiod 2.x's Python API (`request_lines(path, consumer=, config={offset:
LineSettings})`, `LineRequest.set_value/get_value/release`, `gpiod.line.Value/Direction/Bias`),
so the board's timing (relay pulse, debounced door) runs on it exactly as on a Jetson.
"""

from __future__ import annotations

import enum
import sys
import types

import pytest

from firmware.camera.clock import ManualClock
from firmware.io import IoBackendMissing, IoConfigError, IoPins, make_io
from firmware.io.gpiod_pins import GpiodPins


class Value(enum.Enum):
    INACTIVE = 0
    ACTIVE = 1


class Direction(enum.Enum):
    INPUT = 1
    OUTPUT = 2


class Bias(enum.Enum):
    PULL_UP = 1
    PULL_DOWN = 2


class LineSettings:
    def __init__(self, direction=None, output_value=None, bias=None):
        self.direction, self.output_value, self.bias = direction, output_value, bias


class FakeChip:
    """The kernel side: line levels that tests drive, and who holds each line."""

    def __init__(self, lines: int = 64):
        self.lines = lines
        self.levels: dict[int, Value] = {}
        self.held: dict[int, object] = {}
        self.settings: dict[int, LineSettings] = {}


class LineRequest:
    def __init__(self, chip: FakeChip, config: dict):
        self.chip, self.offsets, self.released = chip, list(config), False

    def set_value(self, offset, value):
        assert not self.released and offset in self.offsets
        self.chip.levels[offset] = value

    def get_value(self, offset):
        assert not self.released and offset in self.offsets
        return self.chip.levels.get(offset, Value.INACTIVE)

    def release(self):
        self.released = True
        for o in self.offsets:
            self.chip.held.pop(o, None)


def fake_gpiod(chip: FakeChip, paths: dict[str, FakeChip]) -> types.ModuleType:
    mod = types.ModuleType("gpiod")
    mod.__version__ = "2.2.0"
    mod.line = types.SimpleNamespace(Value=Value, Direction=Direction, Bias=Bias)
    mod.LineSettings = LineSettings
    mod.calls = []

    def request_lines(path, consumer=None, config=None):
        mod.calls.append((path, consumer, dict(config)))
        c = paths[path]
        for offset, settings in config.items():
            if offset >= c.lines:
                raise ValueError(f"offset {offset} out of range")
            if offset in c.held:
                raise OSError(16, "Device or resource busy")
        req = LineRequest(c, config)
        for offset, settings in config.items():
            c.held[offset] = req
            c.settings[offset] = settings
            if settings.direction is Direction.OUTPUT:
                c.levels[offset] = settings.output_value
            elif settings.bias is Bias.PULL_UP:
                c.levels.setdefault(offset, Value.ACTIVE)
        return req

    mod.request_lines = request_lines
    return mod


@pytest.fixture
def chip(monkeypatch):
    c = FakeChip()
    monkeypatch.setitem(sys.modules, "gpiod", fake_gpiod(c, {"/dev/gpiochip0": c}))
    monkeypatch.setattr("firmware.io.gpiod_pins.chip_exists", lambda path: path == "/dev/gpiochip0")
    return c


PINS = IoPins(ir_illuminator=50, status_led=51, alert_relay=52, tamper_switch=53, loop_detector=54, ir_cut=55)


def test_board_on_gpiod_drives_lines_and_debounces_the_door(chip):
    clock = ManualClock()
    chip.levels[53] = Value.INACTIVE  # door closed (switch to ground) from the start
    board = make_io("gpiod", PINS, clock=clock, debounce=0.05, driver_options={"chip": "/dev/gpiochip0"})
    gpiod = sys.modules["gpiod"]
    assert all(call[0] == "/dev/gpiochip0" and call[1] == "alpr" for call in gpiod.calls)
    assert chip.settings[53].bias is Bias.PULL_UP and chip.settings[54].bias is Bias.PULL_UP  # loop: active low
    assert chip.settings[52].direction is Direction.OUTPUT and chip.levels[52] is Value.INACTIVE

    board.pulse_relay(0.5)
    assert chip.levels[52] is Value.ACTIVE
    for _ in range(60):
        clock.advance(0.01)
        board.update()
    assert chip.levels[52] is Value.INACTIVE  # closed for its 0.5 s, then open

    board.set_illuminator(0.3)
    assert chip.levels[50] is Value.INACTIVE  # no PWM on gpiod: below half is off
    board.set_illuminator(0.8)
    assert chip.levels[50] is Value.ACTIVE
    board.set_ir_cut(True)
    assert chip.levels[55] is Value.ACTIVE

    events = []
    board.on_tamper(events.append)
    assert board.door_open() is False  # settled closed during the pulse; a closed door at boot is no event
    for level in (Value.ACTIVE, Value.INACTIVE, Value.ACTIVE, Value.INACTIVE, Value.ACTIVE):  # bouncing
        chip.levels[53] = level
        clock.advance(0.01)
        board.update()
    for _ in range(10):
        clock.advance(0.01)
        board.update()
    assert [e.opened for e in events] == [True]

    board.close()
    assert chip.held == {} and chip.levels[50] is Value.INACTIVE  # released, outputs off


def test_missing_gpiod_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiod", None)
    with pytest.raises(IoBackendMissing, match=r"install the \[gpiod\] extra"):
        GpiodPins("/dev/gpiochip0")


def test_old_gpiod_bindings_are_refused(monkeypatch):
    old = types.ModuleType("gpiod")
    old.__version__ = "1.6.3"
    monkeypatch.setitem(sys.modules, "gpiod", old)
    with pytest.raises(IoBackendMissing, match=r"gpiod >= 2.0.*1.6.3"):
        GpiodPins("/dev/gpiochip0")


def test_bad_chip_line_and_busy_line_say_what_to_do(chip):
    with pytest.raises(IoConfigError, match="/dev/gpiochip0"):
        GpiodPins("gpiochip0")
    with pytest.raises(IoConfigError, match="does not exist here"):
        GpiodPins("/dev/gpiochip9")
    pins = GpiodPins("/dev/gpiochip0")
    with pytest.raises(IoConfigError, match="has no line 99.*gpioinfo"):
        pins.output(99, pwm=False)
    pins.output(5, pwm=False)
    with pytest.raises(IoConfigError, match="cannot claim line 5.*another consumer"):
        GpiodPins("/dev/gpiochip0").input(5, pull_up=True)
    with pytest.raises(IoConfigError, match="accepts chip"):
        make_io("gpiod", PINS, driver_options={"chip_path": "/dev/gpiochip0"})


def test_config_selects_gpiod_with_chip_and_line_offsets():
    """io.backend = "gpiod", io.gpiod_chip and line offsets above 40 (only for gpiod)."""
    from appliance.config import build
    from appliance.errors import ConfigError
    cfg = build({"io": {"backend": "gpiod", "gpiod_chip": "/dev/gpiochip1", "status_led": 105}}, {})
    assert cfg.io.backend == "gpiod" and cfg.io.gpiod_chip == "/dev/gpiochip1" and cfg.io.status_led == 105
    with pytest.raises(ConfigError, match="only with io.backend = 'gpiod'"):
        build({"io": {"backend": "gpiozero", "status_led": 105}}, {})
    with pytest.raises(ConfigError, match="GPIO chip device"):
        build({"io": {"backend": "gpiod", "gpiod_chip": "gpiochip0"}}, {})
