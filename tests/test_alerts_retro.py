"""Retrospective alerts, repeat suppression, the LED leaving ALERT after acknowledgement, the accuracy report.

POLICY HL-1 (a new entry checked against recent reads), HL-3 (acknowledgement), HL-4
(misread and stale outcomes feed the accuracy report), RT-1 (the 7-day window sits inside
the 30 days non-hit reads are kept). Real SQLCipher stores; the LED and relay on the
simulated pin board (firmware.io).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from appliance.alerts import AlertingWriter, AlertSink, acknowledge, open_alerts
from appliance.alerts.accuracy import accuracy, lookalike_pairs, to_csv
from appliance.alerts.records import alerts_between, open_count
from appliance.alerts.retro import RetroMatcher
from appliance.alerts.watch import AlertWatch
from appliance.hotlists import Hotlist, synced_entry
from appliance.hotlists.repository import MatcherCache, replace_list
from firmware.camera.clock import ManualClock
from firmware.io import IoPins, LedPattern, make_io
from test_store import T0, make_read, open_store

STOLEN = Hotlist("list-stolen", "Stolen vehicles", "stolen_vehicle", priority=1)
PARTIAL = Hotlist("list-partial", "Major incident", "partial_plate_major_incident", priority=1)


def entry(plate: str, hotlist: Hotlist = STOLEN, case: str = "C-1"):
    return synced_entry(hotlist.id, plate, entered_by="CLETS", entered_at=T0 - timedelta(days=30), state="CA",
                        reason="stolen", case_number=case)


class Recorder:
    """A sink that keeps what it was told (the relay and LED sink is tested on the pin board below)."""

    def __init__(self) -> None:
        self.alerts = []

    def __call__(self, alert) -> None:
        self.alerts.append(alert)


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


def writer_at(store, now, sinks=()):
    clock = lambda: now[0]  # noqa: E731 - the test moves now[0]
    return AlertingWriter(store, MatcherCache(store, clock=clock).current, sinks=list(sinks), clock=clock)


def test_a_new_entry_alerts_once_on_a_read_of_three_days_ago_marked_retrospective(store):
    """HL-1: a car read before its entry existed raises one retrospective alert, hub first, sinks told."""
    now = [T0]
    sink = Recorder()
    writer = writer_at(store, now, [sink])
    old = make_read("7ABC123", at=T0 - timedelta(days=3), seed=1)
    older = make_read("7ABC123", at=T0 - timedelta(days=4), seed=2)  # the same car, a day earlier
    too_old = make_read("5XYZ789", at=T0 - timedelta(days=8), seed=3)  # outside the 7-day window
    for r in (older, old, too_old):
        writer(r)
    assert open_alerts(store) == []
    retro = RetroMatcher(store, writer, clock=lambda: now[0])
    assert retro.check() == []  # first check with no lists: nothing
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2")], "clerk", now=T0)
    (alert,) = retro.check()
    assert alert.retrospective and alert.read_id == old.id and alert.seen_at == old.last_seen.replace(
        microsecond=old.last_seen.microsecond // 1000 * 1000)
    assert alert.seen_ago(T0).days == 3 and alert.repeats == 1  # the older read noted, not alerted
    assert sink.alerts == [alert] and store.get_read(old.id).hit and store.get_read(older.id).hit
    pending = store.outbox_pending(50)
    assert pending[0].kind == "alert" and pending[0].body["retrospective"] is True
    assert retro.check() == []  # nothing changed: no scan, no alert
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2")], "sync", now=T0 + timedelta(hours=1))
    assert retro.check() == [] and len(open_alerts(store)) == 1  # a re-import of the same list: covered


def test_a_renewed_entry_is_matched_again_but_a_live_alert_is_never_repeated_retrospectively(store):
    now = [T0]
    writer = writer_at(store, now)
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0 - timedelta(days=2))
    (live,) = writer(make_read("7ABC123", at=T0 - timedelta(days=1), seed=1))
    retro = RetroMatcher(store, writer, clock=lambda: now[0])
    replace_list(store, STOLEN, [entry("7ABC123"), entry("4DEF456", case="C-9")], "clerk", now=T0)
    assert retro.check() == [] and [a.id for a in open_alerts(store)] == [live.id]


def test_a_repeat_hit_within_the_window_is_noted_not_alerted(store):
    """The tracker's reread of a parked car (every 300 s) must not alert every 5 minutes."""
    now = [T0]
    sink = Recorder()
    writer = writer_at(store, now, [sink])
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    (first,) = writer(make_read("7ABC123", at=T0, seed=1))
    now[0] = T0 + timedelta(minutes=5)
    again = make_read("7ABC123", at=now[0], seed=2)  # the parked car read again (tracker reread)
    assert writer(again) == [] and store.get_read(again.id).hit
    now[0] = T0 + timedelta(minutes=9)
    assert writer(make_read("7A8C123", at=now[0], seed=3)) == []  # a misread of the same car: same entry
    (stored,) = open_alerts(store)
    assert stored.id == first.id and stored.repeats == 2 and sink.alerts == [first]
    assert [e.kind for e in store.outbox_pending(50)].count("alert") == 1  # no seq used up by the repeats
    now[0] = T0 + timedelta(minutes=30)  # 21 minutes after the last sighting: a new pass
    assert len(writer(make_read("7ABC123", at=now[0], seed=4))) == 1


def test_no_suppression_after_confirmed_or_not_located_and_patterns_group_by_plate(store):
    now = [T0]
    writer = writer_at(store, now)
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    replace_list(store, PARTIAL, [entry("9XY*", PARTIAL)], "clerk", now=T0)
    (first,) = writer(make_read("7ABC123", at=T0, seed=1))
    acknowledge(store, first.id, "not_located", "op", T0 + timedelta(minutes=1))
    now[0] = T0 + timedelta(minutes=3)
    assert len(writer(make_read("7ABC123", at=now[0], seed=2))) == 1  # came back after "not located"
    assert len(writer(make_read("9XY111", at=now[0], seed=3))) == 1
    assert len(writer(make_read("9XY222", at=now[0], seed=4))) == 1  # another plate fits the pattern: another car
    assert writer(make_read("9XY111", at=now[0] + timedelta(minutes=1), seed=5)) == []


def test_the_led_leaves_alert_when_the_last_open_alert_is_acknowledged(store):
    """The UI acknowledges in another process; AlertWatch sees it in the store and settles the LED."""
    clock = ManualClock()
    board = make_io("simulated", IoPins(status_led=27, alert_relay=17), clock=clock)
    try:
        sink = AlertSink(board, pulse_s=1.0)
        now = [T0]
        writer = writer_at(store, now, [sink])
        replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2")], "clerk", now=T0)
        (a,) = writer(make_read("7ABC123", at=T0, seed=1))
        (b,) = writer(make_read("5XYZ789", at=T0, seed=2))
        watch = AlertWatch(store, sinks=[sink])
        watch.tick()
        assert board.led_pattern is LedPattern.ALERT and open_count(store) == 2
        acknowledge(store, a.id, "confirmed", "op", T0)
        watch.tick()
        assert board.led_pattern is LedPattern.ALERT  # one still open
        acknowledge(store, b.id, "misread", "op", T0)
        watch.tick()
        assert board.led_pattern is LedPattern.RUNNING and not sink.showing
    finally:
        board.close()
    with pytest.raises(ValueError, match="interval_s"):
        AlertWatch(store, interval_s=0)


def test_alert_watch_thread_runs_retro_and_stops(store):
    now = [T0]
    writer = writer_at(store, now)
    writer(make_read("7ABC123", at=T0 - timedelta(hours=2), seed=1))
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    watch = AlertWatch(store, RetroMatcher(store, writer, clock=lambda: now[0]), interval_s=0.05)
    watch.start()
    try:
        for _ in range(100):
            if open_alerts(store):
                break
            threading.Event().wait(0.05)
    finally:
        assert watch.stop()
    (alert,) = open_alerts(store)
    assert alert.retrospective


def test_accuracy_report_counts_misread_and_stale_per_list_and_lookalike_pair(store):
    """HL-4."""
    now = [T0]
    writer = writer_at(store, now)
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2"), entry("4DEF456", case="C-3")],
                 "clerk", now=T0)
    (a,) = writer(make_read("7A8C123", at=T0, seed=1))  # 8 read where the list has B
    (b,) = writer(make_read("5XYZ789", at=T0, seed=2))
    (c,) = writer(make_read("4DEF456", at=T0, seed=3))
    acknowledge(store, a.id, "misread", "op", T0)
    acknowledge(store, b.id, "stale_entry", "op", T0)
    assert lookalike_pairs(a) == ["8/B"]
    report = accuracy(alerts_between(store, T0 - timedelta(days=1), T0 + timedelta(days=1)))
    t = report.lists["Stolen vehicles"]
    assert (t.alerts, t.acknowledged, t.outcomes["misread"], t.outcomes["stale_entry"]) == (3, 2, 1, 1)
    assert t.rate("misread") == 0.5 and report.pairs["8/B"].outcomes["misread"] == 1
    assert report.kinds["exact"].alerts == 2 and report.kinds["lookalike"].alerts == 1
    rows = to_csv(report).splitlines()
    assert rows[0].startswith("group,name,alerts,acknowledged,confirmed,misread,stale_entry,not_located")
    assert "lookalike_pair,8/B,1,1,0,1,0,0,1.0000,0.0000" in rows
    assert c.is_open and accuracy([]).total.rate("misread") is None
