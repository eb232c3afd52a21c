"""The hotlist matcher is rebuilt off the writer thread and swapped in; reads meanwhile still get their alerts.

POLICY HL-1 (a changed list is checked against the reads stored before the change took
effect in matching) and RT-5 (expired entries never hit, in the store-backed index too).
Real SQLCipher stores; the slow build is a real build held at a gate (threading.Event),
so nothing here depends on how long anything takes.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest

from appliance.alerts import AlertingWriter, open_alerts
from appliance.alerts.retro import RetroMatcher
from appliance.hotlists import Hotlist, synced_entry
from appliance.hotlists.bench import random_plates, random_reads
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import manual_entry
from appliance.hotlists.repository import MatcherCache, lists_version, load_lists, replace_list
from appliance.hotlists.stored_index import StoredPlates, load_matcher
from test_store import T0, make_read, open_store

STOLEN = Hotlist("list-stolen", "Stolen vehicles", "stolen_vehicle", priority=2)
WANTED = Hotlist("list-wanted", "Wanted", "wanted", priority=1, policy="exact")
PARTIAL = Hotlist("list-partial", "Major incident", "partial_plate_major_incident", priority=1)
WAIT_S = 10  # only ever reached when something is broken


def entry(plate: str, hotlist: Hotlist = STOLEN, case: str = "C-1"):
    return synced_entry(hotlist.id, plate, entered_by="CLETS", entered_at=T0 - timedelta(days=30), state="CA",
                        reason="stolen", case_number=case)


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


class GatedBuild:
    """The real build (stored_index.load_matcher), held at a gate once `close()` was called: a slow build on demand."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.builds = 0

    def close(self) -> None:
        self.started.clear()
        self.gate.clear()

    def __call__(self, store, clock):
        self.builds += 1
        self.started.set()
        if not self.gate.wait(WAIT_S):
            raise TimeoutError("the test never opened the build's gate")
        return load_matcher(store, clock)


def in_thread(fn, *args) -> tuple[threading.Thread, list]:
    """Run fn(*args) on its own thread; its result lands in the returned list."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    t.start()
    return t, out


def hits_of(matcher: Matcher, read) -> list[tuple]:
    return [(h.entry, h.hotlist.id, h.kind, h.matched_text, h.substituted, round(h.score, 9))
            for h in matcher.match(read)]


def test_the_store_backed_matcher_hits_exactly_what_the_in_memory_one_hits(store):
    """Same hits (entry, list, kind, text, score, order) from the slim index as from every entry in memory; RT-5."""
    rng = random.Random(5)
    plates = random_plates(3000, rng)
    stolen = [entry(p, case=f"C-{i}") for i, p in enumerate(plates[:2500])]
    stolen.append(entry(plates[0], case="C-twin"))  # a plate listed twice on one list
    wanted = [entry(p, WANTED, case=f"W-{i}") for i, p in enumerate(plates[2000:2999])]  # 500 on both lists
    expired = manual_entry(WANTED.id, plates[2999], entered_by="clerk", now=T0 - timedelta(days=40), reason="x")
    replace_list(store, STOLEN, stolen, "clerk", now=T0)
    replace_list(store, WANTED, [*wanted, expired], "clerk", now=T0)
    replace_list(store, PARTIAL, [entry(f"{plates[1][:3]}*", PARTIAL), entry(f"{plates[5][:-2]}??", PARTIAL)],
                 "clerk", now=T0)
    version, stored = load_matcher(store, lambda: T0)
    in_memory = Matcher(load_lists(store), lambda: T0)
    assert version == lists_version(store) == 3 and isinstance(stored._plates, StoredPlates)
    assert stored.size == in_memory.size == 2501 + 999 + 2 and stored.budget == in_memory.budget == 1
    reads = random_reads(plates, rng, 600) + [make_read(plates[i]) for i in (0, 1, 5, 2100, 2999)]
    compared = [(hits_of(stored, r), hits_of(in_memory, r)) for r in reads]
    assert all(a == b for a, b in compared)
    assert sum(bool(a) for a, _ in compared) > 250  # the comparison covers plenty of hits, of every kind
    assert {k for a, _ in compared for (_, _, k, *_) in a} == {"exact", "partial", "lookalike", "alternative"}
    assert hits_of(stored, make_read(plates[2999])) == []  # expired on WANTED, never on STOLEN


def test_the_writer_keeps_storing_reads_during_a_slow_rebuild_and_uses_the_new_matcher_after_the_swap(store):
    """The writer never waits for a build: reads are stored while it is held, the new lists hit once swapped in."""
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    build = GatedBuild()
    cache = MatcherCache(store, clock=lambda: T0, build=build)
    assert cache.prepare() and cache.version == 1
    writer = AlertingWriter(store, cache, clock=lambda: T0)
    old = cache.latest()
    build.close()
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2"), entry("6DEF456", case="C-3")],
                 "sync", now=T0)
    during = [make_read("1AAA111", at=T0, seed=1), make_read("7ABC123", at=T0, seed=2)]
    t, out = in_thread(lambda: [writer(r) for r in during])  # the first read starts the rebuild
    t.join(WAIT_S)
    assert not t.is_alive() and build.started.is_set() and not build.gate.is_set()  # stored while the build waits
    assert [len(a) for a in out[0]] == [0, 1] and cache.latest() is old and cache.version == 1
    assert {r.id for r in store.latest_reads(10)} == {r.id for r in during}
    build.gate.set()
    assert cache.wait(WAIT_S) and cache.version == 2 and build.builds == 2  # one rebuild, however many reads asked
    new = cache.latest()
    assert new is not old and new.size == 3 and cache.current() is new
    (alert,) = writer(make_read("6DEF456", at=T0 + timedelta(seconds=5), seed=3))
    assert alert.entry.plate == "6DEF456" and not alert.retrospective


@pytest.mark.parametrize("when", ["during the rebuild", "after the swap"])
def test_a_read_of_an_added_plate_alerts_exactly_once_whenever_it_arrives(store, when):
    """HL-1: during the rebuild the retrospective scan alerts on it; after the swap the writer does. Never both."""
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    build = GatedBuild()
    cache = MatcherCache(store, clock=lambda: T0, build=build)
    cache.prepare()
    writer = AlertingWriter(store, cache, clock=lambda: T0)
    retro = RetroMatcher(store, writer, clock=lambda: T0)
    assert retro.check() == []  # the first scan at start: nothing listed was read
    build.close()
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2")], "sync", now=T0)
    read = make_read("5XYZ789", at=T0 - timedelta(seconds=30), seed=4)
    if when == "during the rebuild":
        assert writer(read) == [] and build.started.wait(WAIT_S)  # the old lists: no alert yet
    checking, raised = in_thread(retro.check)  # waits for the new matcher
    assert build.started.wait(WAIT_S)
    build.gate.set()
    checking.join(WAIT_S)
    assert not checking.is_alive()
    if when == "after the swap":
        (live,) = writer(read)
        assert not live.retrospective and raised[0] == []
    else:
        (alert,) = raised[0]
        assert alert.retrospective and alert.read_id == read.id
    retro.forget()  # scan the window again: the alert, live or retrospective, covers the read
    assert retro.check() == [] and [a.entry.plate for a in open_alerts(store)] == ["5XYZ789"]


class HeldMatcher:
    """The old Matcher, holding the writer inside `match` until released: a read being stored with the old lists."""

    def __init__(self, inner: Matcher) -> None:
        self.inner, self.size = inner, inner.size
        self.matching, self.release = threading.Event(), threading.Event()

    def match(self, read):
        self.matching.set()
        self.release.wait(WAIT_S)
        return self.inner.match(read)


def test_the_retrospective_scan_waits_for_a_read_still_being_stored_with_the_old_matcher(store):
    """HL-1: a read the writer matched with the old lists but had not stored yet is scanned, not missed."""
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    held: list[HeldMatcher] = []

    def build(s, clock):  # the first build's matcher holds the writer; later ones are plain
        version, matcher = load_matcher(s, clock)
        if not held:
            held.append(HeldMatcher(matcher))
            return version, held[0]
        return version, matcher

    cache = MatcherCache(store, clock=lambda: T0, build=build)
    cache.prepare()
    writer = AlertingWriter(store, cache, clock=lambda: T0)
    retro = RetroMatcher(store, writer, clock=lambda: T0)
    read = make_read("5XYZ789", at=T0, seed=5)
    writing, _ = in_thread(writer, read)
    assert held[0].matching.wait(WAIT_S)  # the writer has the old matcher and is about to store the read
    replace_list(store, STOLEN, [entry("7ABC123"), entry("5XYZ789", case="C-2")], "sync", now=T0)
    checking, raised = in_thread(retro.check)
    checking.join(0.3)
    assert checking.is_alive()  # the scan must not start before that read is stored
    held[0].release.set()
    writing.join(WAIT_S)
    checking.join(WAIT_S)
    (alert,) = raised[0]
    assert alert.retrospective and alert.read_id == read.id and cache.version == 2


def test_before_the_first_build_the_writer_matches_nothing_and_the_first_scan_catches_up(store):
    """No matcher yet (start-up build failed or still running): reads are stored at once, checked by the first scan."""
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    build = GatedBuild()
    build.close()
    cache = MatcherCache(store, clock=lambda: T0, build=build)
    writer = AlertingWriter(store, cache, clock=lambda: T0)
    read = make_read("7ABC123", at=T0, seed=6)
    assert writer(read) == [] and cache.latest().size == 0 and cache.version == -1
    retro = RetroMatcher(store, writer, clock=lambda: T0)
    checking, raised = in_thread(retro.check)
    assert build.started.wait(WAIT_S)
    build.gate.set()
    checking.join(WAIT_S)
    (alert,) = raised[0]
    assert alert.retrospective and alert.read_id == read.id and build.builds == 1


def test_a_failed_rebuild_keeps_the_old_matcher_and_is_retried(store):
    """A build that raises leaves the writer on the lists it had; `current()` says why; the next build swaps."""
    replace_list(store, STOLEN, [entry("7ABC123")], "clerk", now=T0)
    failing = [OSError("disk I/O error")]
    builds = []

    def build(s, clock):
        builds.append(clock())
        if failing:
            raise failing.pop()
        return load_matcher(s, clock)

    cache = MatcherCache(store, clock=lambda: T0, build=build)
    assert not cache.prepare() and cache.latest().size == 0  # logged, not raised: the device starts anyway
    assert cache.wait(WAIT_S) and len(builds) == 1  # the writer's latest() waits retry_s before trying again
    failing.append(OSError("disk I/O error"))
    with pytest.raises(OSError, match="disk I/O error"):
        cache.current()
    assert cache.current().size == 1 and cache.version == 1
