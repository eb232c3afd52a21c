"""The device edge on the rig: the enclosure door through the tamper input (alert, security
event, data lock), a trigger burst from the loop input, and the IR switch install check.
Real time with short waits, like test_rig_io.py; the store is a real encrypted one."""

from __future__ import annotations

import time

import numpy as np
import pytest

from firmware.camera import make_camera
from firmware.daynight import set_night_mode
from firmware.install_checks import ir_switch_works
from firmware.io import IoPins, make_io
from hwrig import need_loop, wait_for


@pytest.fixture
def store(tmp_path, monkeypatch):
    from appliance.store import Store
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "credentials"))
    (tmp_path / "credentials").mkdir()
    with Store.open(tmp_path / "store") as s:
        yield s


@pytest.mark.gpio
def test_door_opened_on_the_tamper_input_alerts_records_and_locks(rig, store):
    """The LED output drives the tamper input by wire: the door opens, the relay pulses,
    a security event is appended, and plate data is locked until cleared."""
    from appliance.alerts import AlertSink
    from appliance.audit import records
    from appliance.tamper_door import DoorHandler, TamperLock
    need_loop(rig, "status_led", "tamper_switch")
    pins = IoPins(tamper_switch=rig.pins.tamper_switch, alert_relay=rig.pins.alert_relay)
    board = make_io(rig.io_backend, pins, driver_options=rig.driver_options(), debounce=0.05, tick=0.002)
    door_wire = board.driver.output(rig.pins.status_led, pwm=False)
    lock = TamperLock(store.folder)
    sink = AlertSink(board, pulse_s=0.2)
    handler = DoorHandler(store, "rig", alert=sink, lock=lock)
    try:
        board.on_tamper(handler)
        door_wire.set(0.0)  # closed
        board.start()
        assert wait_for(lambda: board.door_open() is False, 1.0)
        door_wire.set(1.0)  # opened
        assert wait_for(lambda: lock.locked, 2.0), "opening the door did not lock data access"
        assert handler.opened == 1 and sink.raised == 1
        head = records.latest(store, 1)[0]
        assert head.action == "tamper" and head.query["door"] == "opened" and records.verify(store)[0]
        lock.clear(store, "rig-admin", "hw-test", reason="rig run")
        assert not lock.locked and records.latest(store, 1)[0].action == "tamper lock cleared"
    finally:
        door_wire.set(0.0)
        board.close()


@pytest.mark.gpio
def test_relay_pulse_on_the_loop_input_gives_one_capture_burst(rig):
    from firmware.edge import BurstGate
    need_loop(rig, "alert_relay", "loop_detector")
    pins = IoPins(alert_relay=rig.pins.alert_relay, loop_detector=rig.pins.loop_detector)
    board = make_io(rig.io_backend, pins, driver_options=rig.driver_options(), debounce=0.02,
                    trigger_active_high=True, tick=0.002, burst_frames=5, burst_seconds=1.0)
    gate = BurstGate(gated=True)
    try:
        board.on_trigger(gate.trigger)
        board.start()
        time.sleep(0.1)
        assert not gate.admit(time.monotonic())  # no vehicle: gated
        board.pulse_relay(0.2)
        assert wait_for(lambda: gate.bursts == 1, 1.0), "the trigger never fired"
        now = time.monotonic()
        assert [gate.admit(now + 0.01 * i) for i in range(7)] == [True] * 5 + [False] * 2
    finally:
        board.close()


@pytest.mark.ir
@pytest.mark.camera
def test_ir_switch_brightens_the_night_view(rig, tmp_path):
    """Night mode on (illuminator on, IR-cut out) must brighten the target. On the simulated
    rig the replayed night scene is lit by the mock illuminator pin; on a real rig the
    camera looks at a retro-reflective plate in the dark."""
    if rig.pins.ir_illuminator is None:
        pytest.skip(f"rig {rig.name!r} has no ir_illuminator pin")
    pins = IoPins(ir_illuminator=rig.pins.ir_illuminator, ir_cut=rig.pins.ir_cut)
    board = make_io(rig.io_backend, pins, driver_options=rig.driver_options())
    if rig.simulated:
        dark = np.full((360, 640, 3), 8, np.uint8)
        lit = np.full((360, 640, 3), 40, np.uint8)  # the near scene under IR ...
        lit[220:280, 200:400] = 230  # ... and the retro-reflective plate, much brighter

        def night_scene():  # a pass that never ends; each frame shows the illuminator's state now
            while True:
                yield lit if board.driver.pin(rig.pins.ir_illuminator).state > 0 else dark
        camera = make_camera("replay", source=night_scene, fps=0, loop=True)
    else:
        camera = make_camera(**rig.camera)

    def night(on: bool) -> None:
        set_night_mode(board.set_illuminator, board.set_ir_cut, on)

    def grab():
        for _ in range(20):
            frame = camera.read(2.0)
            if frame is not None:
                return frame.image
        raise AssertionError("the camera delivered no frame")

    camera.open()
    try:
        result = ir_switch_works(night, grab, crops_dir=tmp_path / "ir", settle_frames=3)
    finally:
        camera.close()
        board.close()
    assert result.passed, result.message
    assert {p.name for p in result.crops} == {"ir-off.png", "ir-on.png"}
