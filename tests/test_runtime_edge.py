"""The device edge as run_device wires it: sampled frame checks, day/night on the IO board,
the door (alert, security event, data lock and its clearing), trigger bursts, the LED from
health thresholds, and the heartbeat's health_snapshot(). Mock pins, an injectable clock,
real encrypted stores and the real Flask app; nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

from appliance import health_state
from appliance.alerts import AlertSink
from appliance.audit import records
from appliance.config import build
from appliance.edge import REFERENCE_FILE, ObservedCamera, build_edge
from appliance.health_state import EdgeHealth, health_snapshot, read_snapshot_file
from appliance.store import Store
from appliance.tamper_door import DoorHandler, TamperLock
from firmware.camera.clock import ManualClock
from firmware.camera.replay import ReplayCamera
from firmware.daynight import DayNight
from firmware.edge import BurstGate, FrameChecks, led_pattern
from firmware.health import HealthReport, Level
from firmware.io import IoPins, LedPattern, TamperEvent, make_io
from firmware.tamper import Finding, TamperDetector, TamperMonitor
from test_access_control import Clock, app, clock, folder, sign_in, store_of  # noqa: F401 (fixtures)

PINS = IoPins(ir_illuminator=18, status_led=27, alert_relay=17, tamper_switch=22, loop_detector=23, ir_cut=24)


@pytest.fixture
def io_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def board(io_clock):
    b = make_io("simulated", PINS, clock=io_clock, debounce=0.05, driver_options={"loopback": {17: 23}})
    yield b
    b.close()


def step(board, clock, seconds, dt=0.01):
    for _ in range(round(seconds / dt)):
        clock.advance(dt)
        board.update()


def textured(mean: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(mean, 25, (240, 320, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def report(level: Level = Level.OK, reasons=()) -> HealthReport:
    return HealthReport(55.0, None, None, None, True, level, tuple(reasons))


class Ticks:
    """A perf_counter stand-in: each call advances 2 ms, so the cost per check is known."""

    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.001
        return self.t


def test_frame_checks_sample_every_nth_frame_and_drive_day_night(board):
    """Day/night and tamper run on 1 frame in N; night puts the IR-cut filter out and the illuminator on."""
    daynight = DayNight(board.set_illuminator, board.set_ir_cut, window=3, hold_s=0)
    checks = FrameChecks(daynight, TamperMonitor(TamperDetector(), confirm=2), every=5,
                         illuminator_on=lambda: board.illuminator_level > 0, timer=Ticks())
    pins = board.driver
    checked = [checks.observe(textured(150), t) for t in range(15)]
    assert checked == [i % 5 == 0 for i in range(15)]
    state = checks.state()
    assert state.samples == 3 and state.cost_ms == pytest.approx(1.0)  # one tick between start and end
    assert state.night is False and pins.pin(24).state == 1 and pins.pin(18).state == 0  # day: filter in
    assert state.has_reference  # the first clean daytime sample became the reference
    for t in range(15, 30):
        checks.observe(textured(10), t)
    assert checks.state().night is True
    assert pins.pin(24).state == 0 and pins.pin(18).state == 1.0  # night: filter out, illuminator on


def test_frame_check_cost_on_a_1080p_frame():
    """What one sampled check costs on this machine (reported, and bounded so a regression shows)."""
    import time
    checks = FrameChecks(DayNight(lambda level: None, window=1, hold_s=0), TamperMonitor(TamperDetector()), every=1)
    frame = textured(120)
    big = np.ascontiguousarray(np.tile(frame, (5, 6, 1))[:1080, :1920])
    for i in range(20):
        checks.observe(big, float(i))
    state = checks.state()
    print(f"frame check cost: {state.cost_ms:.2f} ms per sampled 1080p frame ({time.perf_counter():.0f})")
    assert 0 < state.cost_ms < 100


def test_camera_tamper_is_confirmed_and_raises_degraded(board, io_clock):
    checks = FrameChecks(None, TamperMonitor(TamperDetector(), confirm=3), every=1)
    for i in range(3):
        checks.observe(np.zeros((240, 320, 3), np.uint8), float(i))  # lens covered
    assert checks.state().findings == {Finding.COVERED}
    edge = EdgeHealth(board=board, checks=checks, read=report, last_frame=lambda: io_clock.now,
                      monotonic=io_clock.monotonic)
    edge.started = True
    snap = edge.sample()
    assert snap["level"] == "degraded" and snap["tamper"] == ["covered"] and snap["led"] == "degraded"
    assert board.led_pattern is LedPattern.DEGRADED


@pytest.mark.parametrize("level, stalled, findings, door, alerting, expected", [
    (Level.OK, False, frozenset(), False, False, LedPattern.RUNNING),
    (Level.DEGRADED, False, frozenset(), False, False, LedPattern.DEGRADED),
    (Level.OK, False, frozenset({Finding.OUT_OF_FOCUS}), False, False, LedPattern.DEGRADED),
    (Level.FAULT, False, frozenset(), False, False, LedPattern.FAULT),
    (Level.OK, True, frozenset(), False, False, LedPattern.FAULT),
    (Level.FAULT, True, frozenset(), True, False, LedPattern.ALERT),
    (Level.OK, False, frozenset(), False, True, LedPattern.ALERT),
])
def test_led_pattern_worst_wins(level, stalled, findings, door, alerting, expected):
    assert led_pattern(started=True, health=level, findings=findings, door_open=door, alerting=alerting,
                       camera_stalled=stalled) is expected
    assert led_pattern(started=False, health=Level.OK) is LedPattern.STARTING


def test_led_follows_health_thresholds_over_time(board, io_clock, tmp_path):
    """Temperature past 80 C degrades, past 85 C faults, a camera with no frame for 10 s faults,
    and a hotlist alert flashes ALERT for a minute; the snapshot file follows."""
    from firmware.health import Limits, judge
    temps = iter([60.0, 82.0, 90.0, 60.0, 60.0, 60.0, 60.0])

    def read() -> HealthReport:
        t = next(temps)
        lv, why = judge(t, None, None, None, True, Limits())
        return HealthReport(t, None, None, None, True, lv, why)

    sink = AlertSink(board)
    last = {"frame": io_clock.now}
    edge = EdgeHealth(board=board, read=read, alert_sink=sink, last_frame=lambda: last["frame"],
                      monotonic=io_clock.monotonic, folder=tmp_path)
    assert edge.sample()["led"] == "starting"
    edge.started = True
    assert edge.sample()["led"] == "degraded" and board.led_pattern is LedPattern.DEGRADED
    assert edge.sample()["led"] == "fault"
    io_clock.advance(11)  # no frame since
    snap = edge.sample()
    assert snap["led"] == "fault" and "no camera frame for 10 s" in snap["reasons"]
    last["frame"] = io_clock.now
    sink("alert-1")  # a hotlist hit at the pole
    assert edge.sample()["led"] == "alert"
    io_clock.advance(61)
    last["frame"] = io_clock.now
    assert edge.sample()["led"] == "alert"  # still unacknowledged
    sink.settle(0)  # the alert watch saw it acknowledged in the web UI
    assert edge.sample()["led"] == "running"
    assert read_snapshot_file(tmp_path)["led"] == "running"


def test_trigger_burst_from_the_loop_input(board, io_clock):
    """The relay looped back to the loop detector: one trigger -> one burst of N frames (gated mode)."""
    gate = BurstGate(gated=True)
    board.on_trigger(gate.trigger)
    board.pulse_relay(0.2)  # drives pin 23 high through the loopback ...
    step(board, io_clock, 0.3)  # ... and low again: the loop input is active low, so release = trigger
    assert gate.bursts == 1
    t0 = io_clock.now
    admitted = [gate.admit(t0 + i * 0.01) for i in range(15)]
    assert admitted == [True] * 10 + [False] * 5  # burst_frames = 10
    assert not gate.admit(t0 + 5.0)  # long after: gated
    assert BurstGate(gated=False).admit(t0)  # ungated: every frame goes on


def test_observed_camera_checks_frames_and_counts_gated_ones(board):
    frames = [textured(150, seed=i) for i in range(6)]
    camera = ReplayCamera(frames, fps=0, camera_id="cam0")
    checks = FrameChecks(None, TamperMonitor(TamperDetector()), every=2)
    gate = BurstGate(gated=True)
    observed = ObservedCamera(camera, checks, gate)
    observed.open()
    got = [observed.read(0.1) for _ in range(6)]
    observed.close()
    assert got == [None] * 6  # no trigger: every frame held back ...
    assert observed.last_frame_monotonic is not None  # ... but they flowed (the watchdog sees that)
    assert checks.state().samples == 3


def test_door_open_alerts_records_and_locks_until_an_administrator_clears(app, clock):  # noqa: F811
    """POLICY LG-6: the door is a security event; with lock_on_door, data pages refuse until an
    administrator clears the lock on the health page, and the clearing is recorded."""
    store = store_of(app)
    io_clock = ManualClock()
    board = make_io("simulated", PINS, clock=io_clock, debounce=0.05)
    try:
        sink = AlertSink(board)
        lock = TamperLock(store.folder)
        door = DoorHandler(store, "pole-7", alert=sink, lock=lock)
        board.on_tamper(door)
        board.driver.pin(22).drive_low()  # door closed at boot
        step(board, io_clock, 0.1)
        assert not lock.locked and board.door_open() is False
        op = app.test_client()
        sign_in(op, clock, "op")
        assert op.get("/").status_code == 200

        for _ in range(3):  # bounce, then open
            board.driver.pin(22).drive_high()
            step(board, io_clock, 0.01)
            board.driver.pin(22).drive_low()
            step(board, io_clock, 0.01)
        board.driver.pin(22).drive_high()
        step(board, io_clock, 0.1)
        assert door.opened == 1 and sink.raised == 1 and board.relay_closed and board.led_pattern is LedPattern.ALERT
        head = records.latest(store, 1)[0]
        assert head.action == "tamper" and head.username == "pole-7" and head.query["door"] == "opened"
        assert head.purpose_category == records.SECURITY_EVENT and head.query["lock"] is True
        assert lock.state()["record"] == head.id

        r = op.get("/")
        assert r.status_code == 403 and b"enclosure door was opened" in r.data
        assert op.get("/health").status_code == 200  # not plate data
        assert op.post("/health/tamper-lock/clear", data={"reason": "x"}).status_code == 403  # admins only
        admin = app.test_client()
        sign_in(admin, clock, "admin")
        page = admin.get("/health")
        assert b"Clear the lock" in page.data
        r = admin.post("/health/tamper-lock/clear", data={"reason": "technician visit, seal replaced"})
        assert r.status_code == 200 and b"open again" in r.data
        cleared = records.latest(store, 1)[0]
        assert cleared.action == "tamper lock cleared" and cleared.username == "admin"
        assert cleared.query["door_record"] == head.id and cleared.query["reason"] == "technician visit, seal replaced"
        assert not lock.locked and op.get("/").status_code == 200
        assert records.verify(store)[0]
        r = admin.post("/health/tamper-lock/clear", data={})
        assert r.status_code == 200 and b"nothing to clear" in r.data
    finally:
        board.close()


def test_door_without_lock_still_alerts_and_records(tmp_path, io_clock):
    with Store.open(tmp_path / "store") as store:
        door = DoorHandler(store, "pole-7", alert=None, lock=None)
        now = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
        door(TamperEvent(True, 1.0, now, False))
        door(TamperEvent(False, 2.0, now, False))
        acts = [(r.action, r.query["door"], r.query["clock_synced"]) for r in records.latest(store, 5)]
        assert acts == [("tamper", "closed", False), ("tamper", "opened", False)]
        assert not TamperLock(store.folder).locked


def test_a_corrupt_lock_file_keeps_data_locked(tmp_path):
    lock = TamperLock(tmp_path)
    (tmp_path / "tamper-lock.json").write_text("{not json")
    assert lock.locked and "corrupt" in lock.state()["error"]


def test_build_edge_from_config_and_health_snapshot_for_the_heartbeat(tmp_path, io_clock):
    cfg = build({"io": {"backend": "simulated", "tamper_switch": 22, "loop_detector": 23, "status_led": 27},
                 "tamper": {"lock_on_door": True, "check_every_frames": 2},
                 "store": {"path": str(tmp_path / "store")}}, {})
    board = make_io("simulated", PINS, clock=io_clock)
    with Store.open(cfg.store.path) as store:
        camera = ReplayCamera([textured(150, seed=i) for i in range(4)], fps=0, camera_id="cam0")
        edge = build_edge(cfg, store, camera, board, AlertSink(board))
        assert edge.door is not None and edge.door.lock is not None and edge.checks.every == 2
        edge.health.read = report
        assert health_snapshot() == {"status": "not running"}
        edge.health.interval_s = 3600  # one sample at start, then the test drives it
        edge.start()
        try:
            edge.camera.open()
            for _ in range(4):
                edge.camera.read(0.1)
            edge.running()
            snap = health_snapshot()
            assert snap["status"] == "ok" and snap["led"] == "running" and snap["frame_checks"] == 2
            assert snap["data_locked"] is False and snap["door_open"] is None and snap["trigger_bursts"] == 0
            assert (store.folder / REFERENCE_FILE).exists()  # the first clean day frame, kept for restarts
        finally:
            edge.stop()
            board.close()
        assert health_snapshot() == {"status": "not running"}
        assert health_state.read_snapshot_file(store.folder)["led"] == "running"


def test_no_frame_yet_is_a_stall_only_after_10_s_from_start(board, io_clock):
    edge = EdgeHealth(board=board, read=report, last_frame=lambda: None, monotonic=io_clock.monotonic)
    edge.started, edge.started_at = True, io_clock.now
    assert edge.sample()["led"] == "running"  # the camera is still opening
    io_clock.advance(10.5)
    assert edge.sample()["led"] == "fault" and board.led_pattern is LedPattern.FAULT


def test_samples_from_two_threads_do_not_interleave(io_clock):
    """The worker and Edge.running() both call sample(): one runs at a time."""
    import threading
    import time

    inside, most = [0], [0]

    def slow_report() -> HealthReport:
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.05)
        inside[0] -= 1
        return report()

    edge = EdgeHealth(read=slow_report, monotonic=io_clock.monotonic)
    threads = [threading.Thread(target=edge.sample) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
