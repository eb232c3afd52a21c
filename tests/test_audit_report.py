"""The audit report (POLICY AR-1): each flag planted in a real chain and found; a clean search not flagged.

The flags are pure functions over StoredRecords appended to a real store; the page and the
CSV go through the real app as the auditor (and are refused to everyone else).
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from appliance.audit import records, report
from appliance.audit.records import AccessRecord
from appliance.audit.report import WorkingHours
from test_access_control import START, clock, folder, sign_in, store_of  # noqa: F401 - fixtures
from test_audit import GOOD, app, search  # noqa: F401 - the app fixture with an agency ORI
from test_store import open_store

HOURS = WorkingHours(7, 19, "UTC")
DAY = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
CLEAN = dict(purpose_category="criminal investigation", purpose_text=GOOD["purpose"], case_number="24-001234",
             query={"plate": "7ABC123"})


def everyone_trained(_user: str, _day: date) -> bool:
    return True


def add(store, at: datetime = DAY, user: str = "alice", **kw) -> records.StoredRecord:
    fields = {**CLEAN, **kw}
    return records.append(store, AccessRecord(username=user, action=fields.pop("action", "search"),
                                              client="10.0.0.9", at=at, **fields))


def flags_of(rows: list[report.Row], record_id: str) -> set[str]:
    return {f.kind for row in rows if row.record.id == record_id for f in row.flags}


@pytest.fixture
def store(tmp_path: Path):
    with open_store(tmp_path / "store") as s:
        yield s


def run(store, trained=everyone_trained, **filters) -> list[report.Row]:
    return report.report(records.all_records(store), hours=HOURS, trained=trained, **filters)


def test_a_clean_search_is_not_flagged(store) -> None:
    """AR-1: a specific purpose, a case number, in working hours, a full plate, a trained user: no flag."""
    clean = add(store)
    rows = run(store)
    assert [r.record.id for r in rows] == [clean.id] and rows[0].flags == ()


@pytest.mark.parametrize("plant, kind", [
    (dict(purpose_text="test"), "vague purpose"),
    (dict(purpose_text="investigation of criminal investigation"), "vague purpose"),  # only stock words
    (dict(case_number=""), "missing case"),
    (dict(at=DAY.replace(hour=2)), "off hours"),
    (dict(at=DAY.replace(hour=19)), "off hours"),  # the end of the working day is exclusive
    (dict(query={"plate": "7*"}), "broad sweep"),
    (dict(query={"plate": "??1*"}), "broad sweep"),
    (dict(user="bob"), "untrained"),
])
def test_each_flag_is_found_alone(store, plant, kind) -> None:
    """AR-1: a planted problem earns its flag and nothing else; the clean search beside it stays clean."""
    clean = add(store)
    planted = add(store, **plant)
    rows = run(store, trained=lambda user, day: user != "bob")
    assert flags_of(rows, planted.id) == {kind}
    assert flags_of(rows, clean.id) == set()
    why = next(f.why for r in rows for f in r.flags if f.record_id == planted.id)
    assert why  # the auditor is told what was seen


def test_an_exigent_search_needs_no_case_and_a_narrow_pattern_is_no_sweep(store) -> None:
    exigent = add(store, purpose_category="exigent circumstances", case_number="",
                  purpose_text="armed robbery in progress at the Main St pharmacy, suspect fled in a van")
    narrow = add(store, query={"plate": "7AB?12*"})
    rows = run(store)
    assert flags_of(rows, exigent.id) == set() and flags_of(rows, narrow.id) == set()


def test_a_volume_spike_is_flagged_on_its_day_only(store) -> None:
    """AR-1: a user's day far above their median day (at least SPIKE_MIN searches) is flagged."""
    quiet = [add(store, at=DAY + timedelta(days=d)) for d in range(5)]  # one a day
    busy = [add(store, at=DAY + timedelta(days=5, minutes=m)) for m in range(12)]
    other = [add(store, user="carol", at=DAY + timedelta(days=5, minutes=m)) for m in range(12)]  # every day busy
    rows = run(store)
    assert all(flags_of(rows, r.id) == {"volume spike"} for r in busy)
    assert all(flags_of(rows, r.id) == set() for r in quiet + other)
    assert "12 searches on 2026-12-06" in next(f.why for r in rows for f in r.flags)


def test_working_hours_follow_the_agency_time_zone_and_may_span_midnight() -> None:
    la = WorkingHours(7, 19, "America/Los_Angeles")
    assert la.contains(datetime(2026, 12, 1, 16, 0, tzinfo=timezone.utc))  # 08:00 in Los Angeles
    assert not la.contains(datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc))  # 02:00 there
    night = WorkingHours.parse("22:00-06:00")
    assert night.contains(DAY.replace(hour=23)) and night.contains(DAY.replace(hour=3))
    assert not night.contains(DAY.replace(hour=12))
    for bad, words in (("7 to 19", "07-19"), ("25-3", "07-19")):
        with pytest.raises(ValueError, match=words):
            WorkingHours.parse(bad)
    with pytest.raises(ValueError, match="IANA"):
        WorkingHours(7, 19, "Mars/Olympus")


def test_filters_and_summary(store) -> None:
    """AR-1: searches by user, purpose and case over a period; other actions are not searches."""
    a = add(store, user="alice", case_number="24-000001")
    b = add(store, user="bob", case_number="24-000002", purpose_category="missing or endangered person")
    add(store, user="alice", at=DAY - timedelta(days=40))  # before the period
    add(store, action="image view", purpose_category="image view", purpose_text="", case_number="", query={})
    period = dict(since=DAY - timedelta(days=1), until=DAY + timedelta(days=1))
    assert [r.record.id for r in run(store, **period)] == [a.id, b.id]
    assert [r.record.id for r in run(store, user="bob", **period)] == [b.id]
    assert [r.record.id for r in run(store, purpose="missing or endangered person", **period)] == [b.id]
    assert [r.record.id for r in run(store, case="000001", **period)] == [a.id]
    s = report.summary(run(store, **period))
    assert s["user"] == {"alice": 1, "bob": 1} and s["case"] == {"24-000001": 1, "24-000002": 1}
    header, *lines = report.csv_rows(run(store, **period))
    assert header[:3] == ["n", "id", "at"] and len(lines) == 2


def test_the_period_is_chosen_in_sql_as_the_pure_filter_chooses_it(store) -> None:
    """The page reads only the period's searches (records.searches_between); the edges match `searches`."""
    inside = [add(store, at=DAY), add(store, at=DAY + timedelta(hours=23, minutes=59, seconds=59.999999))]
    add(store, at=DAY - timedelta(microseconds=1))  # just before: out
    add(store, at=DAY + timedelta(days=1))  # `until` is exclusive: out
    add(store, at=DAY + timedelta(hours=1), action="image view", purpose_category="image view", purpose_text="",
        case_number="", query={})  # not a search
    since, until = DAY, DAY + timedelta(days=1)
    chosen = [r.id for r in records.searches_between(store, since, until)]
    assert chosen == [r.id for r in inside]
    assert chosen == [r.id for r in report.searches(records.all_records(store), since=since, until=until)]


# -- the page and the CSV, through the real app ---------------------------------------------------------

def test_the_report_page_and_csv_flag_a_vague_search(app, clock) -> None:  # noqa: F811
    """AR-1 through the UI: a vague search planted in the chain shows flagged; the page is recorded (LG-6)."""
    store = store_of(app)
    vague = add(store, user="op", at=START, purpose_text="test", case_number="")
    op = app.test_client()
    sign_in(op, clock, "op")
    search(op, plate="7ABC123", **GOOD)  # a clean one beside it
    assert op.get("/audit/report").status_code == 403 and op.get("/audit/report.csv").status_code == 403
    aud = app.test_client()
    sign_in(aud, clock, "aud")
    page = aud.get("/audit/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'class="flagged" data-record="{vague.id}"' in html and "vague purpose" in html
    assert "2 searches, 1 flagged" in html
    rows = list(csv.DictReader(io.StringIO(aud.get("/audit/report.csv").get_data(as_text=True))))
    flagged = {r["id"]: r["flags"] for r in rows}
    assert flagged[vague.id] == "vague purpose; missing case" and sum(1 for f in flagged.values() if f) == 1
    assert [r.action for r in records.latest(store, 2)] == ["audit report", "audit report"]
    assert aud.get("/audit/report?since=2026-13-01").status_code == 400
    assert aud.get("/audit/report?since=2026-12-02&until=2026-12-01").status_code == 400
