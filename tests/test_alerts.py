"""Hotlists in the store, alerts written with their read, the relay and LED, the alert page (issue #7).

POLICY HL-1 (who/when on every list change), HL-2 (list age warning), HL-3 (notice,
acknowledgement with outcome, user and time), TR-1 (training gate). Real SQLCipher stores,
gpiozero's MockFactory pins, the real Flask app.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.alerts import AlertError, AlertingWriter, AlertSink, acknowledge, open_alerts, record_read
from appliance.alerts.model import NOTICE
from appliance.errors import AlprError
from appliance.hotlists import Hotlist, HotlistError, Matcher, synced_entry
from appliance.hotlists.imports import parse_csv
from appliance.hotlists.repository import MatcherCache, import_log, load_lists, replace_list
from appliance.store import outbox
from firmware.camera.clock import ManualClock
from firmware.io import IoPins, LedPattern, make_io
from test_access_control import START, app, clock, folder, sign_in, store_of  # noqa: F401 (fixtures)
from test_store import T0, make_read, open_store

STOLEN = Hotlist("list-stolen", "Stolen vehicles", "stolen_vehicle", priority=1, source_system="CLETS via hub")


def entries(*plates: str, list_id: str = STOLEN.id, at=T0):
    return [synced_entry(list_id, p, entered_by="CLETS", entered_at=at, state="CA", reason="stolen",
                         case_number=f"C-{i}") for i, p in enumerate(plates)]


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


def test_replace_list_is_atomic_and_logged(store):
    first = replace_list(store, STOLEN, entries("7ABC123", "5XYZ789"), "clerk", now=T0)
    assert (first.added, first.removed, first.entries, first.who) == (2, 0, 2, "clerk")
    kept_id = next(e.id for e in load_lists(store)[0][1] if e.plate == "7ABC123")
    second = replace_list(store, STOLEN, entries("7ABC123", "4DEF456"), "sync", now=T0 + timedelta(hours=1))
    assert (second.added, second.removed) == (1, 1) and second.n > first.n
    ((hotlist, stored),) = load_lists(store)
    assert sorted(e.plate for e in stored) == ["4DEF456", "7ABC123"]
    assert kept_id in {e.id for e in stored}  # a kept entry keeps its id: alerts still name it
    assert hotlist.refreshed_at == (T0 + timedelta(hours=1)).replace(microsecond=183000)  # stored to the ms
    assert hotlist.source_system == "CLETS via hub"
    assert [r.who for r in import_log(store)] == ["sync", "clerk"]


def test_a_failed_replacement_changes_nothing(store):
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0)
    with pytest.raises(AlprError):  # an empty import never empties a list unless asked
        replace_list(store, STOLEN, [], "clerk", now=T0)
    with pytest.raises(HotlistError, match="belongs to list"):
        replace_list(store, STOLEN, entries("4DEF456", list_id="other"), "clerk", now=T0)
    assert [e.plate for e in load_lists(store)[0][1]] == ["7ABC123"] and len(import_log(store)) == 1
    with pytest.raises(HotlistError, match="username"):
        replace_list(store, STOLEN, entries("4DEF456"), " ", now=T0)


def test_rejected_import_lines_are_counted(store):
    parsed = parse_csv(b"plate,state\n7ABC123,CA\n!!,CA\n4DEF456,CA\n", STOLEN.id, source="CLETS", now=T0)
    log = replace_list(store, STOLEN, parsed, "clerk", now=T0)
    assert (log.added, log.rejected) == (2, 1) and log.detail["rejected_lines"][0]["line"] == 3


def test_matcher_cache_rebuilds_only_after_a_change(store):
    cache = MatcherCache(store, clock=lambda: T0)
    assert cache.current().size == 0
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0)
    m = cache.current()
    assert m.size == 1 and cache.current() is m
    assert [h.kind for h in m.match(make_read("7ABC123"))] == ["exact"]


def test_a_hit_stores_read_alert_and_outbox_entry_together(store):
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0)
    store.add_read(make_read("1AAA111", at=T0 - timedelta(seconds=5), seed=2))  # queued before the hit
    writer = AlertingWriter(store, MatcherCache(store, clock=lambda: T0).current, clock=lambda: T0)
    miss = make_read("5QQQ555", at=T0, seed=3)
    assert writer(miss) == [] and not store.get_read(miss.id).hit
    read = make_read("7A8C123", at=T0 + timedelta(seconds=1), seed=4)  # 8 for B: a look-alike, budget 1
    (alert,) = writer(read)
    assert store.get_read(read.id).hit and alert.read_id == read.id and alert.entry.plate == "7ABC123"
    assert alert.substituted == (2,) and alert.kind == "lookalike"
    pending = store.outbox_pending(10)
    assert pending[0].kind == "alert" and pending[0].id == alert.id  # ahead of reads stored earlier
    assert [e.kind for e in pending[1:]] == ["access"] + ["read"] * 3  # the list change's access record first
    assert pending[0].body["entry"]["plate"] == "7ABC123" and pending[0].body["read_id"] == read.id


def test_an_alert_never_exists_without_its_read(store):
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0)
    read = make_read("7ABC123")
    store.add_read(read)
    hits = Matcher(load_lists(store), clock=lambda: T0).match(read)
    with pytest.raises(AlprError, match="already stored"):  # the read fails: the alert must roll back too
        record_read(store, read, hits, T0)
    assert open_alerts(store) == [] and [e.kind for e in store.outbox_pending(10)] == ["access", "read"]  # list change
    (seq,) = outbox.next_seqs(store.database, "alert", 1)
    assert seq == 1  # the rolled-back seq was not used up


def test_acknowledgement_records_outcome_user_and_time(store):
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0)
    (alert,) = record_read(store, make_read("7ABC123"), Matcher(load_lists(store), clock=lambda: T0)
                           .match(make_read("7ABC123")), T0)
    with pytest.raises(AlertError, match="outcome must be one of"):
        acknowledge(store, alert.id, "dismissed", "op", T0)
    done = acknowledge(store, alert.id, "misread", "op", T0 + timedelta(minutes=2), "O read as 0")
    assert (done.outcome, done.acknowledged_by, done.acknowledged_at, done.note) == \
        ("misread", "op", (T0 + timedelta(minutes=2)).replace(microsecond=183000), "O read as 0")
    assert open_alerts(store) == []
    with pytest.raises(AlertError, match="already acknowledged by op"):
        acknowledge(store, alert.id, "confirmed", "sup", T0)


def test_alert_sink_pulses_the_relay_and_flashes_the_led():
    clock = ManualClock()
    board = make_io("simulated", IoPins(status_led=27, alert_relay=17), clock=clock)
    try:
        sink = AlertSink(board, pulse_s=1.5)
        relay = board.driver.pin(17)
        sink(object())
        assert relay.state and board.led_pattern is LedPattern.ALERT and sink.raised == 1
        clock.advance(1.0)
        board.update()
        assert relay.state  # still within the pulse
        clock.advance(0.6)
        board.update()
        assert not relay.state  # the pulse ended
        assert [bool(s.state) for s in relay.states][-2:] == [True, False]
        sink.clear()
        assert board.led_pattern is LedPattern.RUNNING
    finally:
        board.close()
    with pytest.raises(ValueError, match="pulse_s"):
        AlertSink(board, pulse_s=0)


def _alert_in(app):
    s = store_of(app)
    replace_list(s, STOLEN, entries("7ABC123"), "clerk", now=START - timedelta(hours=30))
    read = make_read("7ABC123", at=START, seed=5, char_confidences=(0.99, 0.5, 0.99, 0.99, 0.99, 0.99, 0.99))
    (alert,) = record_read(s, read, Matcher(load_lists(s), clock=lambda: START).match(read), START)
    return alert


def test_alert_page_shows_what_to_verify(app, clock):  # noqa: F811
    alert = _alert_in(app)
    client = app.test_client()
    sign_in(client, clock, "op")
    page = client.get("/alerts").get_data(as_text=True)
    assert NOTICE in page
    assert '7<mark class="uncertain" title="uncertain character">A</mark>BC123' in page  # HL-3: uncertain marked
    assert "Stolen vehicles" in page and "CLETS via hub" in page and "C-0" in page
    assert "older than 24 hours" in page  # HL-2: the list is 30 h old
    assert f"/reads/{alert.read_id}/crop" in page


def test_alert_is_acknowledged_with_an_outcome(app, clock):  # noqa: F811
    alert = _alert_in(app)
    client = app.test_client()
    sign_in(client, clock, "sup")
    r = client.post("/alerts", data={"alert_id": alert.id, "outcome": ""})
    assert r.status_code == 400 and b"Choose an outcome" in r.data
    assert open_alerts(store_of(app))  # not dismissed without an outcome
    r = client.post("/alerts", data={"alert_id": alert.id, "outcome": "stale_entry", "note": "recovered last week"})
    assert r.status_code == 303 and r.headers["Location"] == "/alerts"
    assert open_alerts(store_of(app)) == []
    done = store_of(app).database.execute_sql("SELECT outcome, acknowledged_by, acknowledged_at FROM alerts").fetchone()
    assert done[0] == "stale_entry" and done[1] == "sup" and done[2].startswith(clock().strftime("%Y-%m-%dT%H:%M"))
    assert b"No open alerts" in client.get("/alerts").data


@pytest.mark.parametrize("name, why", [("aud", b"does not give access"), ("rec", b"does not give access"),
                                       ("untrained", b"training record")])
def test_alert_page_refused_without_role_or_training(app, clock, name, why):  # noqa: F811
    _alert_in(app)
    client = app.test_client()
    sign_in(client, clock, name)
    for r in (client.get("/alerts"), client.post("/alerts", data={"outcome": "confirmed"})):
        assert r.status_code == 403 and why in r.data
    assert len(open_alerts(store_of(app))) == 1
