"""Hotlists (issue #7): the model, normalisation, matching, imports and the import checker.

POLICY HL-1 (entries record source, who, when, reason, case; partial plates), RT-5
(manual entries expire after 30 days unless renewed with a reason).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import random
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from appliance.hotlists.bench import bench_match, random_plates, random_reads
from appliance.hotlists.checker import check
from appliance.hotlists.imports import (FIXED_WIDTH_LAYOUT, ImportResult, Parsed, parse_csv, parse_fixed_width,
                                        parse_json, replace_list)
from appliance.hotlists.matching import Matcher, compile_pattern
from appliance.hotlists.model import (MANUAL_EXPIRY, Entry, Hit, Hotlist, HotlistError, ImportFileError, manual_entry,
                                      synced_entry)
from appliance.hotlists.normalise import (PLATE_CHARS, is_lookalike, lookalike_key, lookalike_neighbours,
                                          lookalike_positions, normalise_pattern, normalise_plate)
from appliance.recognition.confusables import CONFUSABLE
from appliance.types import Alternative, Read, TextReading

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
STOLEN = Hotlist("stolen", "Stolen vehicles", "stolen_vehicle", priority=2, source_system="CLETS via hub",
                 refreshed_at=NOW)
EXACT = Hotlist("exact", "Wanted (exact only)", "wanted", policy="exact")
PARTIAL = Hotlist("partial", "Major incident", "partial_plate_major_incident", priority=1)


def entry(plate: str, list_id: str = "stolen", **kw) -> Entry:
    return synced_entry(list_id, plate, entered_by=kw.pop("entered_by", "CLETS"), entered_at=NOW, **kw)


def reading(text: str, conf: float | tuple[float, ...] = 0.99, alts: tuple[tuple[str, float], ...] = ()) -> TextReading:
    c = conf if isinstance(conf, tuple) else (conf,) * len(text)
    return TextReading(text, min(c), c, tuple(Alternative(t, s) for t, s in alts))


def fixed(clock_time: datetime = NOW):
    return lambda: clock_time


# ---------------------------------------------------------------- model

def test_hotlist_refuses_unknown_source_priority_and_budget_with_what_is_allowed():
    with pytest.raises(HotlistError, match="source must be one of stolen_vehicle, stolen_plate"):
        Hotlist("x", "X", "stolen")
    with pytest.raises(HotlistError, match="priority must be 1"):
        Hotlist("x", "X", "bolo", priority=0)
    with pytest.raises(HotlistError, match="lookalike_budget must be 0 to 2"):
        Hotlist("x", "X", "bolo", lookalike_budget=3)
    with pytest.raises(HotlistError, match="policy must be one of exact, lookalike"):
        Hotlist("x", "X", "bolo", policy="fuzzy")
    assert EXACT.budget == 0 and STOLEN.budget == 1


def test_hotlist_age_and_staleness():
    assert not STOLEN.is_stale(NOW + timedelta(hours=23))
    assert STOLEN.is_stale(NOW + timedelta(hours=25))
    assert EXACT.is_stale(NOW)  # never refreshed


def test_manual_entry_expires_after_30_days_and_renew_needs_a_reason():  # RT-5
    e = manual_entry("stolen", "7abc-123", entered_by="jdoe", now=NOW, reason="stolen from lot", state="ca",
                     case_number="26-0042")
    assert (e.plate, e.state, e.manual) == ("7ABC123", "CA", True)
    assert e.expires_at == NOW + MANUAL_EXPIRY == NOW + timedelta(days=30)
    assert not e.is_expired(NOW + timedelta(days=29)) and e.is_expired(NOW + timedelta(days=30))
    for empty in ("", "   "):
        with pytest.raises(HotlistError, match="needs a reason"):
            e.renew(empty, "jdoe", NOW + timedelta(days=20))
    later = NOW + timedelta(days=25)
    r = e.renew("owner confirmed still missing", "asmith", later)
    assert r.expires_at == later + timedelta(days=30) and r.id == e.id
    assert r.renewals[-1].by == "asmith" and r.renewals[-1].reason == "owner confirmed still missing"
    assert e.renewals == ()  # frozen: renew returns a copy
    with pytest.raises(HotlistError, match="only manual entries"):
        entry("7ABC123").renew("why", "jdoe", NOW)
    with pytest.raises(HotlistError, match="needs a reason"):
        manual_entry("stolen", "7ABC123", entered_by="jdoe", now=NOW, reason=" ")


def test_entry_validation_names_the_problem():
    with pytest.raises(HotlistError, match="must be normalised"):
        Entry("e", "l", "7abc123", "x", NOW)
    with pytest.raises(HotlistError, match="at least 3 are needed"):
        entry("7?*")
    with pytest.raises(HotlistError, match="timezone-aware"):
        Entry("e", "l", "7ABC123", "x", datetime(2026, 1, 1))
    with pytest.raises(HotlistError, match="two-letter"):
        entry("7ABC123", state="Cal")
    with pytest.raises(HotlistError, match="entered_by is empty"):
        Entry("e", "l", "7ABC123", " ", NOW)
    with pytest.raises(HotlistError, match="has '#'"):
        entry("7AB#123")


def test_types_round_trip_through_dicts_with_rfc3339_times():
    e = manual_entry("stolen", "7ABC123", entered_by="jdoe", now=NOW, reason="r").renew("again", "jdoe", NOW)
    d = e.to_dict()
    assert d["entered_at"] == "2026-03-01T12:00:00.000Z" and d["expires_at"].endswith("Z")
    assert Entry.from_dict(json.loads(json.dumps(d))) == e
    assert Hotlist.from_dict(json.loads(json.dumps(STOLEN.to_dict()))) == STOLEN


# ---------------------------------------------------------------- normalisation

def test_normalise_examples():
    assert normalise_plate(" 7abc-12.3 ") == "7ABC123"
    assert normalise_pattern("7ab?**1*") == "7AB?*1*"
    for bad, what in (("7ABC#1", "'#'"), ("7ABÇ1", "'Ç'"), ("- .", "empty"), ("AB?1", "'\\?'")):
        with pytest.raises(ValueError, match=what):
            normalise_plate(bad)


@given(st.text(alphabet=st.sampled_from("ab7AB -.01?*#éßı\n"), max_size=12))
def test_normalisation_is_idempotent(text):
    for f in (normalise_plate, normalise_pattern):
        try:
            once = f(text)
        except ValueError:
            continue
        assert f(once) == once
        assert set(once) <= PLATE_CHARS | set("?*")


def test_lookalike_pairs_are_checked_pairwise_across_overlapping_groups():
    assert is_lookalike("8", "B") and is_lookalike("3", "B") and not is_lookalike("8", "3")
    assert is_lookalike("I", "T") and is_lookalike("7", "T") and not is_lookalike("I", "7")
    assert lookalike_positions("ABC1O3", "ABC103") == (4,)
    assert lookalike_positions("A8C", "A3C") is None  # 8 and 3 share a key (via B) but are not partners
    assert lookalike_key("A8C") == lookalike_key("A3C") == lookalike_key("ABC")


@given(st.text(alphabet=st.sampled_from("O0D8B3ITL7HWX"), min_size=1, max_size=6), st.integers(1, 2))
def test_neighbours_are_exactly_the_lookalike_variants_within_budget(plate, budget):
    got = list(lookalike_neighbours(plate, budget))
    texts = [t for t, _ in got]
    assert len(texts) == len(set(texts)) and plate not in texts
    for t, pos in got:
        assert lookalike_positions(plate, t) == pos and 1 <= len(pos) <= budget
    if len(plate) <= 4:  # against brute force over every string of the same length
        alphabet = sorted({c for c in plate} | {p for c in plate for p in CONFUSABLE.get(c, "")})
        brute = set()
        for combo in itertools.product(alphabet, repeat=len(plate)):
            pos = lookalike_positions(plate, "".join(combo))
            if pos is not None and 1 <= len(pos) <= budget:
                brute.add("".join(combo))
        assert set(texts) == brute


# ---------------------------------------------------------------- matching

def test_exact_hit_scores_the_product_of_character_confidences():
    m = Matcher.for_list(STOLEN, [entry("7ABC123", state="CA")], clock=fixed())
    conf = (0.99, 0.95, 0.8, 0.99, 0.99, 0.99, 0.99)
    [hit] = m.match(reading("7ABC123", conf))
    assert (hit.kind, hit.substituted, hit.uncertain) == ("exact", (), (2,))
    assert hit.score == pytest.approx(float(np.prod(conf)))
    assert hit.hotlist is STOLEN and hit.entry.state == "CA"
    assert m.match(reading("7ABC124")) == []


def test_the_o0_twin_is_a_lookalike_hit_and_a_non_lookalike_difference_is_not():
    m = Matcher([(STOLEN, [entry("ABC103")]), (EXACT, [entry("ABC103", "exact")])], clock=fixed())
    hits = m.match(reading("ABC1O3", (0.99, 0.99, 0.99, 0.99, 0.7, 0.99)))
    assert [(h.hotlist.id, h.kind, h.substituted, h.matched_text) for h in hits] == [("stolen", "lookalike", (4,), "ABC103")]
    assert hits[0].score == pytest.approx(0.99 ** 5 * 0.3)
    assert hits[0].uncertain == (4,)
    assert m.match(reading("ABC1H3")) == []  # H is nobody's look-alike of 0
    assert m.match(reading("ABC1O8")) == []  # two swaps, budget 1


def test_budget_two_allows_two_swaps_never_three():
    two = Hotlist("two", "Two", "bolo", lookalike_budget=2)
    m = Matcher.for_list(two, [entry("ABC1034", "two")], clock=fixed())
    assert [h.substituted for h in m.match(reading("A8C1O34"))] == [(1, 4)]
    assert m.match(reading("A8C1OE4")) == []


def test_an_alternative_reading_hits_with_its_own_score_only_within_the_lookalike_budget():
    m = Matcher([(STOLEN, [entry("ABC103")]), (EXACT, [entry("ABC103", "exact")])], clock=fixed())
    [hit] = m.match(reading("ABC1O3", alts=(("ABC103", 0.31), ("ABC1Q3", 0.1))))
    assert (hit.kind, hit.score, hit.substituted, hit.hotlist.id) == ("alternative", 0.31, (4,), "stolen")
    # the reader proposing a non-look-alike character does not make a hit
    assert m.match(reading("ABC1H3", alts=(("ABC103", 0.4),))) == []


def test_partial_patterns_and_their_literal_score():
    m = Matcher([(PARTIAL, [entry("7AB?1*", "partial")]), (STOLEN, [entry("7ABX123")])], clock=fixed())
    conf = (0.9, 0.9, 0.9, 0.5, 0.9, 0.5, 0.5)
    hits = m.match(reading("7ABX123", conf))
    assert [(h.hotlist.id, h.kind) for h in hits] == [("partial", "partial"), ("stolen", "exact")]  # priority 1 first
    assert hits[0].score == pytest.approx(0.9 ** 4)  # the '?' and the '*' run do not count
    assert m.match(reading("7AC1")) == []
    alt = m.match(reading("7A8X1", alts=(("7ABX1", 0.2),)))
    assert [(h.kind, h.matched_text) for h in alt] == [("alternative", "7ABX1")]


def test_expired_entries_never_hit_even_in_a_matcher_built_before_they_expired():
    e = manual_entry("stolen", "7ABC123", entered_by="jdoe", now=NOW, reason="r")
    clock = [NOW]
    m = Matcher.for_list(STOLEN, [e, entry("7A8C12*")], clock=lambda: clock[0])
    assert [(h.kind, h.entry.id) for h in m.match(reading("7ABC123"))] == [("exact", e.id)]
    assert sorted(h.kind for h in m.match(reading("7A8C123"))) == ["lookalike", "partial"]
    clock[0] = NOW + timedelta(days=31)
    assert m.match(reading("7ABC123")) == []
    assert [h.kind for h in m.match(reading("7A8C123"))] == ["partial"]
    assert Matcher.for_list(STOLEN, [e], clock=lambda: clock[0]).size == 0


def test_matches_an_appliance_read_and_records_its_id():
    read = Read("r-1", "dev", "cam", "7ABC123", 0.9, (0.9,) * 7, (), NOW, NOW, True, (0, 0, 10, 5), "up", 3,
                np.zeros((1, 1, 3), np.uint8), np.zeros((1, 1, 3), np.uint8))
    [hit] = Matcher.for_list(STOLEN, [entry("7ABC123")], clock=fixed()).match(read)
    assert isinstance(hit, Hit) and hit.read_id == "r-1" and hit.to_dict()["kind"] == "exact"


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("AB12?*"), min_size=1, max_size=7),
       st.text(alphabet=st.sampled_from("AB12"), min_size=1, max_size=9))
def test_a_pattern_matches_exactly_what_fnmatch_says(pattern, text):
    pattern = normalise_pattern(pattern)
    assume(sum(c not in "?*" for c in pattern) >= 3)
    expected = fnmatch.fnmatchcase(text, pattern)
    assert bool(compile_pattern(pattern).fullmatch(text)) == expected
    hits = Matcher.for_list(EXACT, [entry(pattern, "exact")], clock=fixed()).match(reading(text))
    assert bool(hits) == expected and all(h.kind in ("partial", "exact") for h in hits)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("O0D8B3IT7HWXY"), min_size=2, max_size=8),
       st.text(alphabet=st.sampled_from("O0D8B3IT7HWXY"), min_size=2, max_size=8), st.integers(0, 2))
def test_lookalike_matching_is_exactly_its_rule(listed, read_text, budget):
    """Hit iff equal, or every difference is a look-alike pair and there are at most `budget` of them."""
    policy = "exact" if budget == 0 else "lookalike"
    h = Hotlist("h", "H", "bolo", policy=policy, lookalike_budget=budget)
    hits = Matcher.for_list(h, [entry(listed, "h")], clock=fixed()).match(reading(read_text))
    pos = lookalike_positions(read_text, listed)
    assert bool(hits) == (pos is not None and len(pos) <= budget)
    if hits:
        assert hits[0].substituted == pos and hits[0].kind == ("exact" if not pos else "lookalike")


@given(st.text(alphabet=st.sampled_from(sorted(PLATE_CHARS)), min_size=4, max_size=8), st.data())
def test_lookalike_matching_finds_the_twin_and_never_beyond_budget(plate, data):
    swappable = [i for i, c in enumerate(plate) if CONFUSABLE.get(c)]
    assume(len(swappable) >= 3)
    budget = data.draw(st.integers(1, 2))
    where = sorted(data.draw(st.lists(st.sampled_from(swappable), min_size=budget + 1, max_size=budget + 1, unique=True)))
    twin = list(plate)
    for i in where:
        twin[i] = data.draw(st.sampled_from(CONFUSABLE[plate[i]]))
    h = Hotlist("h", "H", "bolo", lookalike_budget=budget)
    m = Matcher.for_list(h, [entry(plate, "h")], clock=fixed())
    within = twin[:]
    within[where[-1]] = plate[where[-1]]  # undo one swap: now exactly `budget` swaps
    [hit] = m.match(reading("".join(within)))
    assert hit.kind == "lookalike" and hit.substituted == tuple(where[:-1])
    assert m.match(reading("".join(twin))) == []


@pytest.fixture(scope="module")
def million():
    # 200k entries keep the suite quick; `alpr bench hotlist` times 10k, 100k and 1M.
    plates = random_plates(200_000, random.Random(3))
    entries = [Entry(f"e{i}", "stolen", p, "CLETS", NOW) for i, p in enumerate(plates)]
    return plates, Matcher.for_list(STOLEN, entries, clock=fixed())


def test_a_large_list_finds_listed_plates_and_their_twins(million):
    """Correctness at size; speed is the benchmark's job (`alpr bench hotlist`), not a timed test."""
    plates, m = million
    reads = random_reads(plates, random.Random(4), 500)
    assert m.size == 200_000
    assert sum(len(m.match(r)) > 0 for r in reads) >= 200  # half are listed plates or their twins


def test_bench_match_runs_at_small_size():
    plates = random_plates(2000, random.Random(1))
    r = bench_match(1000, plates, random_reads(plates[:1000], random.Random(2), 300))
    assert r["entries"] == 1000 and r["hits"] > 0 and 0 < r["mean_us"] < 1000


# ---------------------------------------------------------------- imports

def test_csv_with_configured_columns_reports_each_bad_line_and_keeps_going():
    data = ("LIC,LIS,Notes,Case\n"
            "7abc-123,ca,blue Civic,26-1\n"
            "7AB#123,CA,bad char,26-2\n"
            "\n"
            "8XYZ999,California,bad state,26-3\n"
            "9QQQ111,NV,too,many,fields\n"
            ",CA,no plate,26-5\n"
            '"6DEF 456",AZ,"quoted, with comma",26-6\n').encode()
    p = parse_csv(data, "stolen", source="CLETS", now=NOW,
                  columns={"plate": "lic", "state": "LIS", "description": "Notes", "case_number": "Case"})
    assert [e.plate for e in p.entries] == ["7ABC123", "6DEF456"] and list(p.lines) == [2, 8]
    assert p.entries[0].state == "CA" and p.entries[1].description == "quoted, with comma"
    assert p.entries[0].entered_by == "CLETS" and p.entries[0].entered_at == NOW  # HL-1: source system, sync time
    assert [(r.line, r.reason.split(";")[0]) for r in p.rejected] == [
        (3, "plate '7AB#123' has '#'"), (5, "state must be a two-letter upper-case code like CA, or empty"),
        (6, "has 5 fields"), (7, "no plate")]
    assert "5 fields; the header has 4" in p.rejected[2].reason and p.encoding == "utf-8"


def test_csv_default_columns_dates_and_missing_columns():
    data = b"plate,state,expires_at,entered_at\n7ABC123,CA,2026-04-01,2026-02-01T08:00:00Z\n7ABC124,CA,soon,\n"
    p = parse_csv(data, "l", source="hub", now=NOW)
    assert p.entries[0].expires_at == datetime(2026, 4, 1, tzinfo=timezone.utc)
    assert p.entries[0].entered_at == datetime(2026, 2, 1, 8, tzinfo=timezone.utc)
    assert p.rejected[0].line == 3 and "expires_at 'soon' is not a date" in p.rejected[0].reason
    with pytest.raises(ImportFileError, match="no column for plate -> 'LIC'; its columns are plate, state"):
        parse_csv(data, "l", source="hub", now=NOW, columns={"plate": "LIC"})
    with pytest.raises(HotlistError, match="unknown field.*colour.*fields are plate, state"):
        parse_csv(data, "l", source="hub", now=NOW, columns={"plate": "plate", "colour": "c"})
    with pytest.raises(ImportFileError, match="no column for plate"):
        parse_csv(b"lic,state\n7ABC123,CA\n", "l", source="hub", now=NOW)


def test_wrong_encodings_are_reported_clearly():
    data = "plate,description\n7ABC123,Citroën C3\n".encode("cp1252")
    p = parse_csv(data, "l", source="hub", now=NOW)
    assert p.encoding == "cp1252" and p.entries[0].description == "Citroën C3"
    assert "not UTF-8 (byte 0xEB on line 2); read it as Windows-1252" in p.warnings[0]
    p = parse_csv(b"plate,description\n7ABC123,x\x81y\n", "l", source="hub", now=NOW)  # 0x81 is not cp1252
    assert p.encoding == "latin-1" and "Latin-1" in p.warnings[0]
    with pytest.raises(ImportFileError, match="UTF-16 or not a text file; save it as UTF-8"):
        parse_csv("plate\n7ABC123\n".encode("utf-16"), "l", source="hub", now=NOW)
    bom = parse_csv("\ufeffplate\n7ABC123\n".encode(), "l", source="hub", now=NOW)
    assert [e.plate for e in bom.entries] == ["7ABC123"] and not bom.warnings


@pytest.mark.parametrize("parse", [parse_csv, parse_fixed_width, parse_json])
@pytest.mark.parametrize("data", [b"", b"  \n\n", b"\r\n"])
def test_empty_files_are_refused(parse, data):
    with pytest.raises(ImportFileError, match="the file is empty"):
        parse(data, "l", source="hub", now=NOW)


def test_a_header_only_file_never_empties_a_list():
    p = parse_csv(b"plate,state\n", "l", source="hub", now=NOW)
    assert p.entries == () and "no entries" in p.warnings[0]
    with pytest.raises(ImportFileError, match="would remove all 1"):
        replace_list([entry("7ABC123")], p)
    assert replace_list([entry("7ABC123")], p, allow_empty=True).removed == 1


def ncic(**f: str) -> str:
    """One record of FIXED_WIDTH_LAYOUT from field codes (missing ones blank)."""
    return "".join(f.get(code, "").ljust(b - a + 1)[: b - a + 1] for code, a, b, _ in FIXED_WIDTH_LAYOUT).rstrip()


def test_fixed_width_extract_maps_fields_and_rejects_bad_records_by_line():
    good = dict(RTY="SV", LIC="7ABC123", LIS="CA", LIY="2026", LIT="PC", VIN="1HGCM82633A004352", VYR="2019",
                VMA="TOYT", VMO="CAM", VCO="BLK", NIC="V123456789", DOT="20260214", ORI="CA0190000")
    lines = ["# agency extract 2026-03-01", ncic(**good), ncic(**{**good, "RTY": "SP", "LIC": "4XYZ987", "ORI": ""}),
             ncic(**{**good, "RTY": "SG"}), ncic(**{**good, "LIC": ""}), ncic(**{**good, "DOT": "20261340"}),
             ncic(**good)[:60], "", ncic(**{**good, "NIC": ""}), ncic(**good).replace(" ", "\t", 1)]
    p = parse_fixed_width("\n".join(lines).encode(), "stolen", source="CLETS", now=NOW)
    a, b = p.entries
    assert (a.plate, a.state, a.case_number, a.entered_by, a.entered_at) == ("7ABC123", "CA", "V123456789", "CA0190000", NOW)
    assert a.description == "2019 TOYT CAM BLK, VIN 1HGCM82633A004352, plate 2026 PC"
    assert a.reason == "NCIC stolen vehicle, stolen 2026-02-14"
    assert (b.plate, b.entered_by, b.reason.split(",")[0]) == ("4XYZ987", "CLETS", "NCIC stolen licence plate")
    assert list(p.lines) == [2, 3]
    assert [(r.line, r.reason.split(" ")[0]) for r in p.rejected] == [
        (4, "record"), (5, "LIC"), (6, "DOT"), (7, "is"), (9, "NIC"), (10, "has")]
    assert "is 60 characters; a record needs at least 76" in p.rejected[3].reason


def test_hub_json_reports_bad_entries_by_line():
    text = ('[\n  {"plate": "7ABC123", "state": "CA", "reason": "stolen", "entered_at": "2026-02-01T00:00:00.000Z"},\n'
            '  "7XYZ999",\n'
            '  {"state": "CA"},\n'
            '  {"plate": "8ABC1?3", "case_number": 42},\n'
            '  {"plate": "9ABC123", "expires_at": "tomorrow", "colour": "red"},\n'
            '  {"plate": "8DEF*",\n   "expires_at": null, "vin": "X"}\n]\n')
    p = parse_json(text.encode(), "stolen", source="hub", now=NOW)
    assert [e.plate for e in p.entries] == ["7ABC123", "8DEF*"] and list(p.lines) == [2, 7]
    assert p.entries[0].entered_at == datetime(2026, 2, 1, tzinfo=timezone.utc) and p.entries[1].entered_at == NOW
    assert [(r.line, r.reason[:22]) for r in p.rejected] == [
        (3, "is a JSON str; each en"), (4, "no plate"), (5, '"case_number" must be '), (6, "expires_at 'tomorrow' ")]
    assert p.warnings == ("ignored unknown entry field(s): colour, vin",)
    env = parse_json(b'{"etag": "x", "list": {"name": "n"},\n "entries": [\n{"plate": "7ABC123"}]}', "l", source="hub", now=NOW)
    assert [e.plate for e in env.entries] == ["7ABC123"] and list(env.lines) == [3]
    with pytest.raises(ImportFileError, match="not valid JSON: .* line 2"):
        parse_json(b'[{"plate": "7ABC123"},\n {"plate": ', "l", source="hub", now=NOW)
    with pytest.raises(ImportFileError, match="array of entries"):
        parse_json(b'{"plates": []}', "l", source="hub", now=NOW)


def test_replace_list_counts_added_removed_changed_kept_and_keeps_ids():
    old = [entry("AAA111", state="CA", reason="stolen"), entry("BBB222", state="CA", reason="stolen"),
           entry("CCC333", state="CA", reason="stolen")]
    later = NOW + timedelta(days=1)
    new = [synced_entry("stolen", p, entered_by="CLETS", entered_at=later, state="CA", reason=r)
           for p, r in (("AAA111", "stolen"), ("BBB222", "recovered, hold"), ("DDD444", "stolen"))]
    p = Parsed(tuple(new), (2, 3, 4), (), (), "utf-8")
    res = replace_list(old, p)
    assert isinstance(res, ImportResult)
    assert (res.added, res.removed, res.changed, res.kept, res.rejected_count) == (1, 1, 1, 1, 0)
    by = {e.plate: e for e in res.entries}
    assert by["AAA111"].id == old[0].id and by["AAA111"].entered_at == NOW  # kept: first entry time stays
    assert by["BBB222"].id == old[1].id and by["BBB222"].reason == "recovered, hold" and by["BBB222"].entered_at == later
    assert by["DDD444"].id == new[2].id and "CCC333" not in by
    assert res.summary()["added"] == 1


def test_a_100k_line_import_is_timed(tmp_path, capsys):
    rng = random.Random(9)
    plates = random_plates(100_000, rng)
    path = tmp_path / "big.csv"
    path.write_text("plate,state,reason\n" + "".join(f"{p},CA,stolen\n" for p in plates) + "7AB#,CA,bad\n")
    t = time.perf_counter()
    p = parse_csv(path.read_bytes(), "stolen", source="CLETS", now=NOW)
    parse_s = time.perf_counter() - t
    t = time.perf_counter()
    res = replace_list([], p)
    report = check(p.entries, now=NOW, lines=p.lines)
    rest_s = time.perf_counter() - t
    with capsys.disabled():
        print(f"\n100k-line CSV: parse {parse_s:.2f} s, replace + check {rest_s:.2f} s, "
              f"{report.counts['lookalike_twin']} look-alike twins")
    assert res.added == 100_000 and [r.line for r in res.rejected] == [100_002]
    assert parse_s < 120


# ---------------------------------------------------------------- checker

def test_checker_warns_about_twins_missing_states_expired_records_and_duplicates():
    expired = manual_entry("stolen", "EXP123", entered_by="jdoe", now=NOW - timedelta(days=40), reason="r", state="CA")
    entries = [entry("ABC1O3", state="CA"), entry("ABC103", state="CA"), entry("ABC1H3", state="CA"),
               entry("A8C3", state="CA"), entry("A3C3", state="CA"),  # 8/3 share a bucket but are not look-alikes
               entry("7XYZ123"), entry("DUP999", state="NV"), entry("DUP999", state="NV"), expired, entry("AB?1O3")]
    r = check(entries, now=NOW, lines=range(2, 12))
    assert r.counts == {"lookalike_twin": 1, "duplicate": 1, "no_state": 2, "expired": 1}
    [twin] = r.of_kind("lookalike_twin")
    assert twin.plates == ("ABC1O3", "ABC103") and twin.lines == (2, 3)
    assert "position 5: O/0" in twin.message and "lines 2, 3" in twin.message
    assert r.of_kind("duplicate")[0].lines == (8, 9) and "appears 2 times" in r.of_kind("duplicate")[0].message
    assert {w.plates[0] for w in r.of_kind("no_state")} == {"7XYZ123", "AB?1O3"}
    assert r.of_kind("expired")[0].plates == ("EXP123",) and not r.clean
    assert check([entry("7ABC123", state="CA")], now=NOW).clean


def test_checker_counts_everything_but_lists_at_most_limit_per_kind():
    r = check([entry(f"7ABC{i:03d}") for i in range(50)], now=NOW, limit=5)
    assert r.counts["no_state"] == 50 and len(r.of_kind("no_state")) == 5
