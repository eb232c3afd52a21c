"""IO through the rig's wiring: the relay output looped back to the loop-detector input,
the status-LED output looped back to the tamper input. Real time, short waits."""

from __future__ import annotations

import time

import pytest

from firmware.io import IoPins, make_io
from hwrig import need_loop, wait_for


@pytest.mark.gpio
def test_relay_pulse_seen_on_looped_input(rig):
    need_loop(rig, "alert_relay", "loop_detector")
    pins = IoPins(alert_relay=rig.pins.alert_relay, loop_detector=rig.pins.loop_detector)
    board = make_io(rig.io_backend, pins, driver_options=rig.driver_options(), debounce=0.02,
                    trigger_active_high=True, tick=0.002)
    try:
        bursts, seen_at = [], []
        board.on_trigger(lambda e: (bursts.append(e), seen_at.append(time.monotonic())))
        board.start()
        time.sleep(0.1)  # settle the idle level
        start = time.monotonic()
        board.pulse_relay(0.3)
        assert wait_for(lambda: bursts, 1.0), "the relay pulse never reached the looped input"
        assert 0.02 <= seen_at[0] - start < 0.25  # after the debounce, well within the pulse
        assert wait_for(lambda: not board.relay_closed, 1.0)
        assert 0.3 <= time.monotonic() - start < 0.6
        time.sleep(0.1)
        assert len(bursts) == 1
    finally:
        board.close()


@pytest.mark.gpio
def test_tamper_input_is_debounced(rig):
    need_loop(rig, "status_led", "tamper_switch")
    pins = IoPins(tamper_switch=rig.pins.tamper_switch)
    board = make_io(rig.io_backend, pins, driver_options=rig.driver_options(), debounce=0.05, tick=0.002)
    line = board.driver.output(rig.pins.status_led, pwm=False)  # drives the tamper input by wire
    try:
        events = []
        board.on_tamper(events.append)
        line.set(0.0)  # door closed
        board.start()
        time.sleep(0.15)
        for _ in range(8):  # contact bounce: 10 ms pulses
            line.set(1.0)
            time.sleep(0.01)
            line.set(0.0)
            time.sleep(0.01)
        time.sleep(0.1)
        assert events == [], "a bouncing contact raised a tamper event"
        line.set(1.0)  # door opened for real
        assert wait_for(lambda: events, 1.0)
        assert [e.opened for e in events] == [True] and board.door_open() is True
    finally:
        line.set(0.0)
        board.close()
