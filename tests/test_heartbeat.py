"""The heartbeat (issue #6 item 6) to the recording hub on loopback, and the hub workers' wiring.

POLICY SH-1/DS-1: heartbeats go only to the configured hub, through the forwarder's session
and auth. A heartbeat is never stored in the outbox: a missed one is not resent, and the
hub sees it as a gap in the heartbeat seq.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from appliance.config import Config
from appliance.hub.forwarder import Forwarder
from appliance.hub.heartbeat import Heartbeat, chrony_offset_s, collect_health
from appliance.hub.tls import hub_session
from appliance.hub.link import build_hub_workers
from appliance.hub.testhub import RecordingHub, wait_until
from appliance.pipeline import DropOldestQueue, Health
from appliance.runtime import build_forwarder
from test_access_control import app, clock, folder, sign_in, store_of  # noqa: F401 (fixtures)
from test_store import T0, make_read, pattern, store  # noqa: F401 (fixture)

SENSORS = {"cpu_temp_c": 61.5, "throttling": None, "disk": {"used_fraction": 0.4}, "emmc": None,
           "clock_synced": True, "level": "ok", "reasons": []}


def pipeline_stub():
    """The two things collect_health reads from a Pipeline: its real Health counters and frame queue."""
    health, frames = Health(), DropOldestQueue(2)
    health.captured, health.reads = 40, 3
    for i in range(4):
        frames.put(i)  # two of them dropped: the oldest go
    return SimpleNamespace(health=health, frames=frames)


def heartbeat(store, fwd: Forwarder, **kw) -> Heartbeat:
    kw.setdefault("sensors", lambda: SENSORS)
    kw.setdefault("offset", lambda: 0.004)
    collect = lambda: collect_health(store, pipeline=pipeline_stub(), forwarder=fwd, **kw)  # noqa: E731
    return Heartbeat(store, fwd.send_items, collect, clock=lambda: T0)


def test_a_heartbeat_carries_the_health_and_stays_out_of_the_outbox(store, hub) -> None:
    store.add_read(make_read("7ABC123", crop=pattern(32, 96, 1), frame=pattern(120, 160, 1)))  # a backlog of 1
    fwd = Forwarder(store, hub.url, "dev-1", timeout_s=2.0)
    beat = heartbeat(store, fwd)
    assert beat.beat_once() and beat.beat_once()
    first, second = hub.of_kind("heartbeat")
    assert (first["seq"], second["seq"]) == (1, 2) and first["at"] == "2026-11-30T04:21:07.183Z"
    h = first["health"]
    assert h["pipeline"]["fps"] == 0.0 and h["pipeline"]["frames_dropped"] == 2 and h["pipeline"]["reads"] == 3
    assert h["sensors"] == SENSORS and h["clock_offset_s"] == 0.004
    assert h["backlog"]["backlog"] == 1 and h["backlog"]["backlog_by_kind"] == {"read": 1}
    assert h["backlog"]["backlog_oldest_age_s"] is not None and "hub_last_error" in h["backlog"]
    assert h["versions"]["store_schema"] >= 11 and h["versions"]["python"]
    assert h["hotlists"] == {}  # never synced
    assert store.outbox_backlog().by_kind == {"read": 1}  # heartbeats are not stored
    assert hub.devices == {"dev-1"}


def test_a_missed_heartbeat_is_not_resent_and_shows_as_a_gap(store, hub) -> None:
    fwd = Forwarder(store, hub.url, "dev-1", timeout_s=2.0)
    beat = heartbeat(store, fwd)
    assert beat.beat_once()
    hub.down()
    assert not beat.beat_once() and "could not reach the hub" in beat.last_error
    hub.up()
    hub.fail(1, 503)
    assert not beat.beat_once() and "503" in beat.last_error
    assert beat.beat_once() and beat.last_error is None
    assert hub.seqs("heartbeat") == [1, 4] and hub.gaps("heartbeat") == [2, 3]
    assert (beat.sent, beat.missed) == (2, 2) and store.outbox_backlog().count == 0


def test_heartbeats_use_the_forwarders_auth(store) -> None:
    """DS-1: the hub's token goes with the heartbeat; without it the hub refuses and the error says so."""
    with RecordingHub(token="hub-secret") as hub:
        good = heartbeat(store, Forwarder(store, hub.url, "dev-1", session=hub_session(hub.url, token="hub-secret"),
                                          timeout_s=2.0))
        assert good.beat_once()
        bad = heartbeat(store, Forwarder(store, hub.url, "dev-1", session=hub_session(hub.url, token="wrong"),
                                         timeout_s=2.0))
        assert not bad.beat_once() and "401" in bad.last_error
        assert len(hub.of_kind("heartbeat")) == 1


def test_a_broken_sensor_costs_only_its_part(store, hub) -> None:
    def broken():
        raise OSError("thermal zone unreadable")
    fwd = Forwarder(store, hub.url, "dev-1", timeout_s=2.0)
    health = collect_health(store, forwarder=fwd, sensors=broken, offset=lambda: None)
    assert health["sensors"] == {"error": "OSError: thermal zone unreadable"}
    assert health["pipeline"] is None and health["backlog"]["backlog"] == 0 and health["clock_offset_s"] is None
    real = collect_health(store)  # the real sensors of this machine: whatever they say, they say it plainly
    assert set(real["sensors"]) >= {"cpu_temp_c", "disk", "clock_synced", "level"} or "error" in real["sensors"]


def test_chrony_offset_is_read_from_its_tracking_report() -> None:
    line = "C0A80001,router,3,1732940467.123,0.000012345,-0.000001,0.00002,-3.1,0.001,0.02,0.01,0.001,64.5,Normal\n"
    assert chrony_offset_s(lambda argv: line) == pytest.approx(0.000012345)
    assert chrony_offset_s(lambda argv: "506 Cannot talk to daemon\n") is None


def test_the_workers_run_beside_the_forwarder_on_their_own_threads(store, hub) -> None:
    """alpr run / alpr demo: hotlists fetched at start and every interval, heartbeats every interval."""
    hub.serve_hotlists({"lists": [{"id": "stolen", "name": "Stolen", "source": "stolen_vehicle", "priority": 1,
                                   "entries": [{"plate": "7ABC123", "reason": "stolen", "case": "C-1"}]}]})
    assert build_hub_workers(store, None, hotlist_refresh_s=60, heartbeat_s=60) is None
    cfg = Config()
    fwd = build_forwarder(Config(hub=type(cfg.hub)(url=hub.url, hotlist_refresh_s=10, heartbeat_interval_s=5)), store)
    workers = build_hub_workers(store, fwd, hotlist_refresh_s=0.2, heartbeat_s=0.2, pipeline=pipeline_stub())
    assert workers.sync.hub == hub.url
    workers.start()
    try:
        assert wait_until(lambda: len(hub.of_kind("heartbeat")) >= 2 and len(hub.hotlist_requests) >= 2, 15)
    finally:
        assert workers.stop()
    assert hub.of_kind("heartbeat")[-1]["health"]["hotlists"]["hotlists_lists"] == 1
    with pytest.raises(ValueError, match="heartbeat interval must be positive"):
        Heartbeat(store, fwd.send_items, dict, interval_s=0)


def test_the_health_page_shows_the_backlog_and_the_lists_age(app, clock, hub) -> None:  # noqa: F811
    """HL-2 and issue #6: the lists' age and the outbox backlog show on the health page (from the store)."""
    from appliance.hub.hotlist_sync import HotlistSync
    s = store_of(app)
    hub.serve_hotlists({"lists": [{"id": "stolen", "name": "Stolen", "source": "stolen_vehicle", "priority": 1,
                                   "entries": [{"plate": "7ABC123", "reason": "stolen", "case": "C-1"}]}]})
    HotlistSync(s, Forwarder(s, hub.url, "dev-1", timeout_s=2.0).hub_request, hub.url, clock=clock).run_once()
    clock.advance(minutes=5)
    client = app.test_client()
    sign_in(client, clock, "op")
    page = client.get("/health").get_data(as_text=True)
    assert "Hub link" in page and re.search(r"Hotlists confirmed by the hub</th><td>[56] min ago", page)
    assert "1 lists, 1 entries, 0 skipped" in page and "Hotlist sync error</th><td>none" in page
    hub.down()
    HotlistSync(s, Forwarder(s, hub.url, "dev-1", timeout_s=2.0).hub_request, hub.url, clock=clock).run_once()
    page = client.get("/health").get_data(as_text=True)
    assert "could not fetch the hotlists" in page and "Not yet at the hub</th><td>" in page
