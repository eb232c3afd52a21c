"""End to end (issue #7): a replayed drive-by through the real pipeline; the listed plate gives one alert,
the mock relay pin pulses, and the alert waits in the outbox ahead of every read."""

from __future__ import annotations

from datetime import datetime, timezone

from appliance.alerts import AlertingWriter, AlertSink, open_alerts
from appliance.hotlists import Hotlist, synced_entry
from appliance.hotlists.repository import MatcherCache, replace_list
from appliance.pipeline import Pipeline
from appliance.runtime import build_recognizers, build_tracker
from appliance.store.store import Store
from appliance.synth.driveby import standard_driveby
from firmware.camera.clock import ManualClock
from firmware.camera.replay import ReplayCamera
from firmware.io import IoPins, LedPattern, make_io
from test_pipeline import FPS, _config, _run_until_done


def test_listed_plate_in_a_driveby_raises_exactly_one_alert(tmp_path):
    d = standard_driveby(seed=3, count=6)
    frames = list(d.frames())
    wanted = d.plates[2]
    cfg = _config(tmp_path / "store")
    store = Store.open(cfg.store.path)
    now = datetime.now(timezone.utc)
    stolen = Hotlist("stolen", "Stolen vehicles", "stolen_vehicle", priority=1)
    replace_list(store, stolen, [synced_entry("stolen", wanted, entered_by="CLETS", entered_at=now, state="CA")],
                 "sync", now=now)
    clock = ManualClock()
    board = make_io("simulated", IoPins(status_led=27, alert_relay=17), clock=clock)
    relay = board.driver.pin(17)
    try:
        writer = AlertingWriter(store, MatcherCache(store).current, sinks=[AlertSink(board, pulse_s=2.0)])
        camera = ReplayCamera(frames, fps=FPS, loop=False, camera_id="test")
        _run_until_done(Pipeline(camera, build_recognizers(cfg), build_tracker(cfg), writer), camera)
        reads = store.latest_reads(100)
        assert sorted(r.text for r in reads) == sorted(d.plates)
        (alert,) = open_alerts(store)
        assert alert.entry.plate == wanted and alert.kind == "exact"
        assert [r.text for r in reads if r.hit] == [wanted] and writer.alerts == 1
        assert relay.state and board.led_pattern is LedPattern.ALERT  # the relay closed ...
        clock.advance(2.1)
        board.update()
        assert not relay.state  # ... for its pulse
        assert [bool(s.state) for s in relay.states] == [False, True, False]
        pending = store.outbox_pending(100)
        # the alert first, though stored later; then the hotlist change's access record (stored first)
        # and the reads, in the order they were stored
        assert [e.kind for e in pending] == ["alert", "access"] + ["read"] * len(d.plates)
        assert pending[0].id == alert.id and pending[0].body["read_text"] == wanted
    finally:
        board.close()
        store.close()
