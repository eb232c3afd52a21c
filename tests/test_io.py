"""IO on gpiozero's mock pins: relay pulse, LED patterns, debounced tamper, trigger burst."""

from __future__ import annotations

import sys

import pytest

from firmware.camera.clock import ManualClock
from firmware.io import (
    BACKENDS,
    Inputs,
    IoBackendMissing,
    IoConfigError,
    IoPins,
    LedPattern,
    Outputs,
    TamperEvent,
    TriggerEvent,
    make_io,
)

PINS = IoPins(ir_illuminator=18, status_led=27, alert_relay=17, tamper_switch=22, loop_detector=23)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def board(clock):
    b = make_io("simulated", PINS, clock=clock, debounce=0.05)
    yield b
    b.close()


def pin(board, number):
    return board.driver.pin(number)


def lit(board, number) -> bool:
    """Whether a digital output is on (mock PWM-capable pins hold 0.0 / 1.0)."""
    return bool(pin(board, number).state)


def step(board, clock, seconds, dt=0.01):
    """Advance the clock in ticks, as the io worker would, without sleeping."""
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        board.update()


def test_board_is_outputs_and_inputs(board):
    assert isinstance(board, Outputs) and isinstance(board, Inputs)
    assert set(BACKENDS) == {"gpiozero", "jetson", "gpiod", "simulated"}


def test_relay_pulse_lasts_its_length(board, clock):
    assert not lit(board, 17)
    board.pulse_relay(0.5)
    assert lit(board, 17) and board.relay_closed
    step(board, clock, 0.49)
    assert lit(board, 17)
    step(board, clock, 0.02)
    assert not lit(board, 17) and not board.relay_closed


def test_second_pulse_extends_first_never_shortens(board, clock):
    board.pulse_relay(1.0)
    step(board, clock, 0.5)
    board.pulse_relay(0.2)  # ends earlier than the running pulse: keeps the longer one
    step(board, clock, 0.45)
    assert lit(board, 17)
    board.pulse_relay(1.0)
    step(board, clock, 0.9)
    assert lit(board, 17)
    step(board, clock, 0.15)
    assert not lit(board, 17)


def levels(board, clock, seconds, dt=0.05):
    """The LED sampled mid-way through each `dt` slot from now, for `seconds`."""
    out = []
    step(board, clock, dt / 2)
    for _ in range(round(seconds / dt)):
        out.append(lit(board, 27))
        step(board, clock, dt)
    return out


def test_led_patterns(board, clock):
    assert not lit(board, 27)  # OFF until told
    board.set_led(LedPattern.RUNNING)
    assert set(levels(board, clock, 3)) == {True}
    board.set_led(LedPattern.STARTING)  # 0.5 s on, 0.5 s off, restarting its phase now
    assert levels(board, clock, 2, dt=0.25) == [True, True, False, False] * 2
    board.set_led(LedPattern.FAULT)  # 0.1 / 0.1
    assert levels(board, clock, 0.8, dt=0.1) == [True, False] * 4
    board.set_led(LedPattern.ALERT)  # three flashes then a pause
    seq = levels(board, clock, 1.0, dt=0.1)
    assert seq == [True, False, True, False, True, False, False, False, False, False]
    board.set_led(LedPattern.DEGRADED)
    seq = levels(board, clock, 2.0, dt=0.25)
    assert seq == [True] * 6 + [False] * 2


def test_pattern_timing_is_exact():
    assert LedPattern.ALERT.period == pytest.approx(1.0)
    assert LedPattern.DEGRADED.level_at(1.49) == 1.0 and LedPattern.DEGRADED.level_at(1.51) == 0.0
    assert LedPattern.DEGRADED.level_at(2.01) == 1.0


def test_illuminator_pwm_level(board):
    board.set_illuminator(0.25)
    assert pin(board, 18).state == pytest.approx(0.25)
    board.set_illuminator(0)
    assert pin(board, 18).state == 0
    with pytest.raises(IoConfigError, match=r"illuminator level must be a number from 0.0 to 1.0; got 1.5"):
        board.set_illuminator(1.5)


def test_bouncing_door_gives_one_tamper_event(board, clock):
    events: list[TamperEvent] = []
    board.on_tamper(events.append)
    door = pin(board, 22)
    door.drive_low()  # closed: a normally-closed switch holds the pulled-up pin low
    step(board, clock, 0.2)
    assert events == [] and board.door_open() is False  # a door closed at boot is no event
    for _ in range(5):  # contact bounce: 20 ms up, 20 ms down, shorter than the 50 ms hold
        door.drive_high()
        step(board, clock, 0.02)
        door.drive_low()
        step(board, clock, 0.02)
    assert events == []
    door.drive_high()
    opened_at = clock.monotonic()
    step(board, clock, 0.04)
    assert events == []  # not yet held for 50 ms
    step(board, clock, 0.03)
    assert len(events) == 1 and events[0].opened is True
    assert 0.05 <= events[0].monotonic - opened_at <= 0.07  # held 50 ms, seen within a tick
    assert events[0].clock_synced is True and board.door_open() is True
    step(board, clock, 1.0)
    door.drive_low()
    step(board, clock, 0.1)
    assert [e.opened for e in events] == [True, False]


def test_door_open_at_boot_is_reported(clock):
    b = make_io("simulated", PINS, clock=clock)
    try:
        events = []
        b.on_tamper(events.append)
        b.driver.pin(22).drive_high()
        step(b, clock, 0.1)
        assert [e.opened for e in events] == [True]
    finally:
        b.close()


def test_trigger_fires_one_burst_per_vehicle(clock):
    b = make_io("simulated", PINS, clock=clock, burst_frames=8, burst_seconds=0.5)
    try:
        bursts: list[TriggerEvent] = []
        b.on_trigger(bursts.append)
        loop = b.driver.pin(23)
        loop.drive_high()  # idle: the detector's contact is open, the pull-up holds it high
        step(b, clock, 0.2)
        assert bursts == []
        loop.drive_low()
        loop.drive_high()  # a 0 ms glitch between ticks is not a vehicle
        step(b, clock, 0.2)
        assert bursts == []
        loop.drive_low()  # a vehicle over the loop
        step(b, clock, 0.3)
        assert len(bursts) == 1
        assert (bursts[0].burst_frames, bursts[0].burst_seconds) == (8, 0.5)
        loop.drive_high()
        step(b, clock, 0.1)
        loop.drive_low()  # the next vehicle
        step(b, clock, 0.1)
        assert len(bursts) == 2
    finally:
        b.close()


def test_a_failing_callback_does_not_stop_the_others(board, clock):
    seen = []
    board.on_tamper(lambda e: 1 / 0)
    board.on_tamper(seen.append)
    pin(board, 22).drive_high()
    step(board, clock, 0.1)
    assert len(seen) == 1


def test_close_switches_outputs_off(clock):
    b = make_io("simulated", PINS, clock=clock)
    b.set_illuminator(1.0)
    b.pulse_relay(5)
    b.set_led(LedPattern.RUNNING)
    factory_pins = [b.driver.pin(n) for n in (18, 17, 27)]
    assert all(p.state for p in factory_pins)
    b.close()
    assert not any(p.state for p in factory_pins)


def test_loopback_relay_drives_trigger(clock):
    b = make_io("simulated", IoPins(alert_relay=17, loop_detector=23), clock=clock,
                driver_options={"loopback": {17: 23}}, trigger_active_high=True)
    try:
        bursts = []
        b.on_trigger(bursts.append)
        step(b, clock, 0.1)
        b.pulse_relay(0.2)
        step(b, clock, 0.3)
        assert len(bursts) == 1 and b.driver.pin(23).state is False  # the pulse ended: input low again
    finally:
        b.close()


def test_worker_thread_runs_updates(clock):
    b = make_io("simulated", PINS, clock=clock, tick=0.001)
    try:
        b.pulse_relay(0.1)
        b.start()
        clock.advance(0.2)
        import time
        deadline = time.monotonic() + 2
        while b.relay_closed and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not b.relay_closed and not b.driver.pin(17).state
    finally:
        b.close()


def test_bad_settings_say_what_is_allowed(clock):
    with pytest.raises(IoConfigError, match="io backend must be one of gpiozero, jetson, gpiod, simulated; got 'pi'"):
        make_io("pi", PINS)
    with pytest.raises(IoConfigError, match="both use pin 17"):
        make_io("simulated", IoPins(alert_relay=17, status_led=17))
    with pytest.raises(IoConfigError, match="it accepts loopback"):
        make_io("simulated", PINS, driver_options={"bogus": 1})
    with pytest.raises(IoConfigError, match="relay pulse must last"):
        b = make_io("simulated", PINS, clock=clock)
        try:
            b.pulse_relay(0)
        finally:
            b.close()
    with pytest.raises(IoConfigError, match="gpiozero pin factory must be one of lgpio"):
        make_io("gpiozero", PINS, driver_options={"pin_factory": "fake"})


def test_missing_libraries_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiozero", None)  # import gpiozero -> ModuleNotFoundError
    with pytest.raises(IoBackendMissing, match=r"install the \[pi\] extra"):
        make_io("gpiozero", PINS)
    monkeypatch.setitem(sys.modules, "Jetson", None)
    monkeypatch.setitem(sys.modules, "Jetson.GPIO", None)
    with pytest.raises(IoBackendMissing, match=r"install the \[jetson\] extra"):
        make_io("jetson", PINS)
    assert issubclass(IoBackendMissing, ImportError)


class FakeJetsonGPIO:
    """Just enough of Jetson.GPIO to check what our backend asks of it."""

    BOARD, OUT, IN, HIGH, LOW = "BOARD", "OUT", "IN", 1, 0

    def __init__(self):
        self.levels: dict[int, int] = {}
        self.duty: dict[int, float] = {}
        self.mode = None
        self.cleaned: list = []

    def setmode(self, mode):
        self.mode = mode

    def setwarnings(self, flag):
        pass

    def setup(self, pin, direction, initial=None):
        self.levels[pin] = initial if initial is not None else self.HIGH

    def output(self, pin, value):
        self.levels[pin] = value

    def input(self, pin):
        return self.levels[pin]

    def cleanup(self, channels=None):
        self.cleaned.append(channels)

    def PWM(self, pin, freq):
        gpio = self

        class P:
            def start(self, duty):
                gpio.duty[pin] = duty

            def ChangeDutyCycle(self, duty):
                gpio.duty[pin] = duty

            def stop(self):
                gpio.duty.pop(pin, None)
        return P()


def test_jetson_backend_on_a_faked_library(monkeypatch, clock):
    import types
    fake = FakeJetsonGPIO()
    pkg = types.ModuleType("Jetson")
    pkg.GPIO = fake
    monkeypatch.setitem(sys.modules, "Jetson", pkg)
    monkeypatch.setitem(sys.modules, "Jetson.GPIO", fake)
    b = make_io("jetson", IoPins(ir_illuminator=33, alert_relay=31, tamper_switch=29), clock=clock)
    events = []
    b.on_tamper(events.append)
    assert fake.mode == "BOARD"
    b.set_illuminator(0.4)
    assert fake.duty[33] == pytest.approx(40.0)
    b.pulse_relay(0.2)
    assert fake.levels[31] == 1
    step(b, clock, 0.25)
    assert fake.levels[31] == 0
    assert events and events[0].opened  # the input read high (door open)
    b.close()
    assert fake.cleaned == [[33, 31, 29]]
