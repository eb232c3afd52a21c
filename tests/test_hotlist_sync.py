"""Hotlist sync from the hub (issue #6 item 4) against the recording hub on loopback, over real HTTP.

POLICY HL-1 (every change logged with who: "hub"), HL-2 (the lists' age is known and shown),
SH-1 (only the configured hub). ETag/304, hub down, 500, garbage, bad entries reported by
list and index and skipped, unknown fields kept, and one transaction for all lists.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.hotlists import Hotlist
from appliance.hotlists.repository import MatcherCache, import_log, lists_version, load_list, load_lists, replace_list
from appliance.hub.forwarder import Forwarder
from appliance.hub.hotlist_sync import HotlistSync, kept_fields, sync_status
from appliance.hub.testhub import RecordingHub, wait_until
from test_store import T0, make_read, store  # noqa: F401 (fixture)


def body(*lists: dict) -> dict:
    return {"lists": list(lists)}


def stolen(*plates: str, **extra) -> dict:
    return {"id": "stolen", "name": "Stolen vehicles", "source": "stolen_vehicle", "priority": 1,
            "entries": [{"plate": p, "state": "CA", "reason": "stolen", "case": f"C-{i}"} for i, p in enumerate(plates)],
            **extra}


AMBER = {"id": "amber", "name": "AMBER alerts", "source": "missing_person", "priority": 1,
         "entries": [{"pattern": "4AB?12", "reason": "AMBER", "case": "A-1", "expires": "2027-01-01T00:00:00Z"}]}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def syncer(store, hub: RecordingHub, clock: Clock, **kw) -> HotlistSync:
    fwd = Forwarder(store, hub.url, "dev-1", timeout_s=2.0)
    return HotlistSync(store, fwd.hub_request, hub.url, clock=clock, **kw)


def plates(store, list_id: str) -> list[str]:
    found = load_list(store, list_id)
    return [] if found is None else sorted(e.plate for e in found[1])


def test_lists_are_applied_then_304_while_unchanged(store, hub, clock) -> None:
    """ETag: the second fetch sends If-None-Match, the hub answers 304, nothing is written but the age."""
    etag = hub.serve_hotlists(body(stolen("7ABC123", "8XYZ789"), AMBER))
    sync = syncer(store, hub, clock)
    result = sync.run_once()
    assert (result.status, result.lists, result.entries, result.skipped) == ("applied", 2, 3, ())
    assert plates(store, "stolen") == ["7ABC123", "8XYZ789"] and plates(store, "amber") == ["4AB?12"]
    assert {log.who for log in import_log(store)} == {"hub"}  # HL-1
    (hit,) = MatcherCache(store, clock=clock).current().match(make_read("8XYZ789", at=T0))
    assert hit.hotlist.id == "stolen"
    version = lists_version(store)
    clock.now = T0 + timedelta(minutes=5)
    assert sync.run_once().status == "unchanged"
    assert hub.hotlist_requests == [None, etag] and lists_version(store) == version
    status = sync_status(store, T0 + timedelta(minutes=6))
    assert status["hotlists_etag"] == etag and status["hotlists_age_s"] == 60.0  # HL-2: age from the last 304
    assert status["hotlists_last_error"] is None and status["hotlists_lists"] == 2
    assert all(abs(h.refreshed_at - clock.now) < timedelta(milliseconds=1) for h, _ in load_lists(store))


def test_a_changed_body_replaces_the_lists_and_a_dropped_list_is_emptied(store, hub, clock) -> None:
    replace_list(store, Hotlist(
        "local", "Kept by hand", "custom"), [], "clerk", now=T0, allow_empty=True)
    hub.serve_hotlists(body(stolen("7ABC123", "8XYZ789"), AMBER))
    sync = syncer(store, hub, clock)
    sync.run_once()
    hub.serve_hotlists(body(stolen("8XYZ789", "9NEW999")))
    result = sync.run_once()
    assert result.status == "applied" and result.lists == 1
    assert plates(store, "stolen") == ["8XYZ789", "9NEW999"]
    assert plates(store, "amber") == []  # the hub no longer sends it: emptied (its history stays in the log)
    assert load_list(store, "local") is not None  # a list the hub never sent is not the sync's to touch


def test_bad_entries_are_reported_by_list_and_index_and_skipped_and_unknown_fields_kept(store, hub, clock) -> None:
    """Bad entries skipped and reported (list, index, why); bad lists left as they were; unknown fields kept."""
    good = stolen("7ABC123", extra_list_field="kept")
    good["entries"] += [{"plate": "7AB*"}, {"reason": "no plate"}, {"plate": "1AAA111", "pattern": "1AA?111"},
                        "not an object", {"plate": "2BBB222", "expires": "tomorrow"},
                        {"plate": "3CCC333", "hub_colour": "red", "case": "C-9"}]
    bad_list = {"id": "wanted", "name": "Wanted", "source": "wanted_people", "entries": []}
    all_bad = {"id": "amber", "name": "AMBER", "source": "missing_person", "entries": [{"plate": ""}]}
    replace_list(store, Hotlist(
        "amber", "AMBER", "missing_person", source_system="hub"), [], "hub", now=T0, allow_empty=True)
    hub.serve_hotlists(body(good, bad_list, all_bad))
    result = syncer(store, hub, clock).run_once()
    assert result.status == "applied" and plates(store, "stolen") == ["3CCC333", "7ABC123"]
    where = [(s.list, s.index) for s in result.skipped]
    assert where == [("stolen", 1), ("stolen", 2), ("stolen", 3), ("stolen", 4), ("stolen", 5),
                     ("wanted", None), ("amber", 0), ("amber", None)]
    reasons = {(s.list, s.index): s.reason for s in result.skipped}
    assert "send it as \"pattern\"" in reasons[("stolen", 1)]
    assert "exactly one of \"plate\" or \"pattern\"" in reasons[("stolen", 2)]
    assert "RFC 3339" in reasons[("stolen", 5)]
    assert "source\" must be one of" in reasons[("wanted", None)] and load_list(store, "wanted") is None
    assert load_list(store, "amber") is not None  # every entry bad: left as it was, not emptied
    kept = kept_fields(store, "stolen")
    assert kept["list"] == {"extra_list_field": "kept"} and kept["entries"] == {"3CCC333||C-9": {"hub_colour": "red"}}
    (log,) = import_log(store, "stolen")
    assert log.rejected == 5 and sync_status(store, T0)["hotlists_skipped"] == 8


def test_hub_down_500_and_garbage_leave_the_lists_unchanged_with_a_clear_error(store, hub, clock) -> None:
    hub.serve_hotlists(body(stolen("7ABC123")))
    sync = syncer(store, hub, clock)
    sync.run_once()
    version = lists_version(store)
    hub.down()
    result = sync.run_once()
    assert result.status == "failed" and "could not fetch the hotlists" in result.error
    hub.up()
    hub.fail_hotlists(1, 500)
    assert "HTTP 500" in sync.run_once().error
    for garbage, why in ((b"{not json", "not JSON"), (b'{"lists": 3}', '"lists" array'), (b"[]", '"lists" array')):
        hub.serve_hotlists(garbage)
        result = sync.run_once()
        assert result.status == "failed" and why in result.error and "left as they were" in result.error
    assert lists_version(store) == version and plates(store, "stolen") == ["7ABC123"]
    assert "left as they were" in sync_status(store, T0)["hotlists_last_error"]
    hub.serve_hotlists(body(stolen("7ABC123", "8XYZ789")))
    assert sync.run_once().status == "applied" and sync_status(store, T0)["hotlists_last_error"] is None


def test_a_failing_apply_leaves_every_old_list(store, hub, clock) -> None:
    """All lists in one transaction: a failure on the second list undoes the first (the matcher never sees a mix)."""
    hub.serve_hotlists(body(stolen("7ABC123"), AMBER))
    syncer(store, hub, clock).run_once()
    etag = sync_status(store, T0)["hotlists_etag"]
    calls = []

    def failing(store_, hotlist, entries, who, **kw):
        calls.append(hotlist.id)
        if len(calls) == 2:
            raise OSError("disk I/O error (simulated)")
        return replace_list(store_, hotlist, entries, who, **kw)

    hub.serve_hotlists(body(stolen("9NEW999"), {**AMBER, "entries": [{"plate": "5QQQ555"}]}))
    result = syncer(store, hub, clock, replace_list=failing).run_once()
    assert result.status == "failed" and "lists unchanged" in result.error and "disk I/O error" in result.error
    assert calls == ["stolen", "amber"]
    assert plates(store, "stolen") == ["7ABC123"] and plates(store, "amber") == ["4AB?12"]
    assert sync_status(store, T0)["hotlists_etag"] == etag  # so the next fetch gets the whole body again


def test_a_hub_without_etag_does_not_reimport_the_same_body(store, hub, clock) -> None:
    hub.serve_hotlists(body(stolen("7ABC123")), etag=None)
    sync = syncer(store, hub, clock)
    assert sync.run_once().status == "applied"
    version = lists_version(store)
    assert sync.run_once().status == "unchanged" and lists_version(store) == version
    assert hub.hotlist_requests == [None, None]


def test_the_sync_thread_fetches_at_start_and_every_interval(store, hub, clock) -> None:
    hub.serve_hotlists(body(stolen("7ABC123")))
    sync = syncer(store, hub, clock, interval_s=0.2)
    sync.start()
    try:
        assert wait_until(lambda: len(hub.hotlist_requests) >= 3, 10)
    finally:
        assert sync.stop()
    assert plates(store, "stolen") == ["7ABC123"]
    with pytest.raises(ValueError, match="refresh interval must be positive"):
        syncer(store, hub, clock, interval_s=0)
