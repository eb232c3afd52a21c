"""Access records (POLICY LG-1..LG-4, LG-6, AC-2): the hash chain, tampering, purpose-bound search, fail closed.

Real stores, the real app and its test client; tampering is done in the database itself,
as someone holding the key would do it (dropping the append-only triggers first).
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from appliance import users
from appliance.audit import records
from appliance.audit.records import AccessRecord
from appliance.hub import tokens
from test_access_control import START, clock, folder, sign_in, store_of  # noqa: F401 - fixtures
from test_store import T0, keys_for, make_read, open_store
from webui import create_app

REPO = Path(__file__).resolve().parents[1]
GOOD = {"category": "criminal investigation", "purpose": "burglary on Elm St, witness saw a silver sedan leave",
        "case": "24-001234"}


@pytest.fixture
def app(folder, clock):  # noqa: F811 - the access-control fixtures, with an agency ORI
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False, "agency": "CA0010000",
                              "password_hasher": users.cheap_hasher(), "clock": clock, "refresh_seconds": 0})
    yield app
    app.extensions["alpr"].store.close()


def kinds(app, action: str) -> list[records.StoredRecord]:
    return [r for r in records.latest(store_of(app), 1000) if r.action == action]


def fill(store, n: int = 5) -> list[records.StoredRecord]:
    return [records.append(store, AccessRecord(username=f"user{i}", action="search", client="10.0.0.9",
                                               purpose_category="criminal investigation", purpose_text=f"case {i}",
                                               case_number=f"C-{i:03d}", query={"plate": f"7AB{i}*"},
                                               result_ids=[f"id-{i}"], at=T0 + timedelta(seconds=i)))
            for i in range(n)]


def unlock(store) -> None:
    """What a tamperer with the key does first: the triggers stop the software, not them."""
    for t in ("access_records_no_update", "access_records_no_delete"):
        store.database.execute_sql(f"DROP TRIGGER {t}")


# -- the chain ---------------------------------------------------------------------------------------

def test_the_chain_verifies_and_refuses_changes(tmp_path: Path) -> None:
    with open_store(tmp_path / "store") as s:
        assert records.verify(s) == (True, None, "0 access records, chain intact")
        recs = fill(s)
        assert records.verify(s) == (True, None, "5 access records, chain intact")
        assert recs[1].prev_hash == recs[0].hash and recs[0].prev_hash == records.GENESIS
        assert recs[0].at == "2026-11-30T04:21:07.183456Z"  # LG-1: finer than 0.01 s
        for sql in ("UPDATE access_records SET purpose_text = 'x' WHERE n = 2", "DELETE FROM access_records WHERE n = 2"):
            with pytest.raises(Exception, match="append-only"):
                s.database.execute_sql(sql)
        assert records.verify(s)[0]


@pytest.mark.parametrize("tamper, bad, words", [
    ("edit", 2, "do not match its hash"),
    ("delete", 4, "record 3 is missing"),  # record 3 deleted: record 4 is the first that does not fit
    ("swap", 2, "previous-record hash"),  # records 2 and 3 change places
    ("delete_first", 2, "record 1 is missing"),
])
def test_tampering_is_detected_and_the_first_bad_record_named(tmp_path: Path, tamper, bad, words) -> None:
    with open_store(tmp_path / "store") as s:
        recs = fill(s)
        unlock(s)
        db = s.database
        if tamper == "edit":
            db.execute_sql("UPDATE access_records SET case_number = 'C-999' WHERE n = 2")
            expect = recs[1].id
        elif tamper == "delete":
            db.execute_sql("DELETE FROM access_records WHERE n = 3")
            expect = recs[3].id
        elif tamper == "delete_first":
            db.execute_sql("DELETE FROM access_records WHERE n = 1")
            expect = recs[1].id
        else:
            db.execute_sql("UPDATE access_records SET n = -1 WHERE n = 2")
            db.execute_sql("UPDATE access_records SET n = 2 WHERE n = 3")
            db.execute_sql("UPDATE access_records SET n = 3 WHERE n = -1")
            expect = recs[2].id  # now second in the chain, it does not follow record 1
        ok, first_bad, why = records.verify(s)
        assert not ok and first_bad == expect and words in why and f"(number {bad})" in why, why


def test_the_audit_pages_check_reads_only_new_records_between_whole_walks(tmp_path: Path, monkeypatch) -> None:
    """chain_check.ChainCheck: a view after the whole walk reads only the records appended since,
    still linked to the last one walked; a record edited meanwhile is found by the next whole walk."""
    from appliance.audit.chain_check import ChainCheck
    read = []
    real = records._problem
    monkeypatch.setattr(records, "_problem", lambda r, *a: read.append(r["n"]) or real(r, *a))
    now = [0.0]
    check = ChainCheck(full_every_s=3600, monotonic=lambda: now[0])
    with open_store(tmp_path / "store") as s:
        fill(s, 5)
        assert check.run(s) == (True, None, "5 access records, chain intact") and read == [1, 2, 3, 4, 5]
        read.clear()
        fill(s, 2)
        now[0] = 600.0
        ok, bad, why = check.run(s)
        assert ok and read == [6, 7] and why.startswith("7 access records, chain intact") and "10 min ago" in why
        unlock(s)
        s.database.execute_sql("UPDATE access_records SET case_number = 'C-999' WHERE n = 2")
        read.clear()
        assert check.run(s)[0] and read == []  # nothing new: the edit waits for the whole walk
        now[0] = 4000.0
        ok, bad, why = check.run(s)
        assert not ok and "(number 2)" in why and "do not match its hash" in why
        s.database.execute_sql("UPDATE access_records SET case_number = 'C-001' WHERE n = 2")  # put back
        assert check.run(s)[0]  # after a failure the next view walks the whole chain again
        records.append(s, AccessRecord(username="x", action="search", client="10.0.0.9",
                                       purpose_category="criminal investigation", purpose_text="case x",
                                       case_number="C-x", query={}, at=T0))
        s.database.execute_sql("UPDATE access_records SET prev_hash = 'forged' WHERE n = 8")
        read.clear()
        now[0] = 4100.0
        ok, bad, why = check.run(s)
        assert not ok and read == [8] and "previous-record hash" in why  # a new record out of chain: caught at once


def test_the_verify_command_exits_0_intact_and_1_broken(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    with open_store(folder) as s:
        recs = fill(s, 3)
    cmd = [sys.executable, "-m", "appliance.audit.command", "verify", "--store", str(folder),
           "--key-file", str(keys_for(folder).path)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 0 and "intact" in r.stdout, r.stderr
    with open_store(folder) as s:
        unlock(s)
        s.database.execute_sql("UPDATE access_records SET username = 'someone-else' WHERE n = 2")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 1 and recs[1].id in r.stderr and "BROKEN" in r.stderr, (r.stdout, r.stderr)


def test_a_record_without_its_fields_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "store") as s:
        with pytest.raises(ValueError, match="username"):
            records.append(s, AccessRecord(username="", action="search", client="x", purpose_category="hub pull"))
        with pytest.raises(ValueError, match="purpose category must be one of"):
            records.append(s, AccessRecord(username="op", action="search", client="x", purpose_category="curiosity"))
        assert records.latest(s) == []


# -- purpose-bound search ------------------------------------------------------------------------------

def search(client, **params):
    return client.get("/search", query_string=params)


def test_a_search_without_purpose_or_case_is_refused(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    assert search(client).status_code == 200  # the empty form runs nothing
    r = search(client, plate="7ABC123")
    assert r.status_code == 400 and b"Choose a purpose category" in r.data and b"7ABC123</td>" not in r.data
    r = search(client, plate="7ABC123", category="criminal investigation", purpose="criminal investigation test",
               case="24-001234")
    assert r.status_code == 400 and b"in your own words" in r.data  # boilerplate
    r = search(client, plate="7ABC123", **{**GOOD, "case": ""})
    assert r.status_code == 400 and b"case number" in r.data
    r = search(client, plate="7A:C", **GOOD)
    assert r.status_code == 400 and b"plate must be 1-16 characters" in r.data
    assert kinds(app, "search") == []


def test_a_search_with_purpose_runs_and_is_recorded_with_every_field(app, clock) -> None:
    s = store_of(app)
    s.add_read(make_read("7XYZ999", at=T0 + timedelta(minutes=1), seed=2))
    read_id = s.search(plate="7ABC123")[0].id
    client = app.test_client()
    sign_in(client, clock, "op")
    r = search(client, plate="7ab*", camera="cam0", since="2026-11-30T00:00", until="2026-12-01T00:00", **GOOD)
    assert r.status_code == 200 and b"7ABC123" in r.data and b"7XYZ999" not in r.data
    [rec] = kinds(app, "search")
    assert (rec.username, rec.agency, rec.client, rec.outcome) == ("op", "CA0010000", "127.0.0.1", "ok")
    assert rec.query == {"plate": "7AB*", "camera": "cam0", "since": "2026-11-30T00:00:00+00:00",
                         "until": "2026-12-01T00:00:00+00:00", "page": 1}
    assert (rec.purpose_category, rec.purpose_text, rec.case_number) == (GOOD["category"], GOOD["purpose"],
                                                                          GOOD["case"])
    assert rec.result_count == 1 and rec.result_ids == [read_id] and rec.review == ""
    assert rec.at.startswith(START.strftime("%Y-%m-%dT%H:%M")) and rec.at.endswith("Z")
    # the crop the page shows is covered by the search's record; a frame, or a crop without it, is not
    assert client.get(f"/reads/{read_id}/crop?via={rec.id}").status_code == 200
    assert kinds(app, "image view") == []
    assert client.get(f"/reads/{read_id}/frame").status_code == 200
    assert client.get(f"/reads/{read_id}/crop").status_code == 200
    views = kinds(app, "image view")
    assert [v.query["kind"] for v in views] == ["crop", "frame"] and all(v.result_ids == [read_id] for v in views)
    assert records.verify(s)[0]


def test_an_exigent_search_needs_no_case_and_is_queued_for_review(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "sup")
    r = search(client, plate="7ABC123", category="exigent circumstances",
               purpose="child taken from park on 5th Ave minutes ago, vehicle fled north")
    assert r.status_code == 200 and b"queued for supervisor review" in r.data
    [rec] = kinds(app, "search")
    assert rec.review == "required" and rec.case_number == ""


def test_hits_only_and_pages(app, clock) -> None:
    s = store_of(app)
    for i in range(30):
        s.add_read(make_read(f"8PG{i:03d}", at=T0 + timedelta(minutes=i + 1), seed=i))
    client = app.test_client()
    sign_in(client, clock, "op")
    r1 = search(client, plate="8PG*", **GOOD)
    assert r1.status_code == 200 and b"next page" in r1.data and r1.data.count(b'class="plate"') == 25
    r2 = search(client, plate="8PG*", page="2", **GOOD)
    assert r2.data.count(b'class="plate"') == 5 and b"previous page" in r2.data
    assert [len(r.result_ids) for r in reversed(kinds(app, "search"))] == [25, 5]
    r = search(client, plate="8PG*", hits="1", **GOOD)
    assert r.status_code == 200 and b"No reads match" in r.data


def test_searches_fail_closed_when_records_cannot_be_written(app, clock) -> None:
    """POLICY LG-4: the access-record table made unwritable, the search is refused and shows nothing."""
    client = app.test_client()
    sign_in(client, clock, "op")
    before = records.latest(store_of(app))  # the sign-in's own record (LG-6)
    store_of(app).database.execute_sql("CREATE TRIGGER jam BEFORE INSERT ON access_records "
                                       "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    r = search(client, plate="7ABC123", **GOOD)
    assert r.status_code == 503 and b"access record could not be written" in r.data and b"7ABC123" not in r.data
    r = client.get("/")  # the live page's one record cannot be written either
    assert r.status_code == 503 and b"7ABC123" not in r.data
    read_id = store_of(app).search(plate="7ABC123")[0].id
    assert client.get(f"/reads/{read_id}/frame").status_code == 503
    assert records.latest(store_of(app)) == before


# -- live monitoring, hub pulls, the auditor's pages ------------------------------------------------------

def test_live_monitoring_is_recorded_once_per_session(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    for _ in range(3):
        assert client.get("/").status_code == 200
    assert client.get("/alerts").status_code == 200
    [live] = kinds(app, "live monitoring")
    assert (live.purpose_category, live.case_number, live.username) == ("live monitoring", "", "op")
    read_id = store_of(app).latest_reads(1)[0].id
    page = client.get("/").get_data(as_text=True)
    assert f"via={live.id}" in page
    assert client.get(f"/reads/{read_id}/crop?via={live.id}").status_code == 200
    assert kinds(app, "image view") == []  # a crop of the live page is covered by the live record
    other = app.test_client()
    sign_in(other, clock, "sup")
    assert other.get(f"/reads/{read_id}/crop?via={live.id}").status_code == 200
    assert [v.username for v in kinds(app, "image view")] == ["sup"]  # someone else's record covers nothing
    client.post("/logout")
    sign_in(client, clock, "op")
    client.get("/")
    assert len(kinds(app, "live monitoring")) == 2  # a new session, a new record


def test_hub_pulls_go_into_the_chain(app) -> None:
    token = tokens.create(store_of(app), "hub-1")
    r = app.test_client().get("/api/v1/reads?limit=5", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    [rec] = kinds(app, "hub pull")
    assert rec.username == "hub:hub-1" and rec.result_ids == [i["id"] for i in r.json["items"]]
    assert rec.query == {"path": "/api/v1/reads", "query": "limit=5", "auth": "token"} and tokens.pulls(store_of(app))


def test_the_auditor_page_shows_records_and_chain_state(app, clock) -> None:
    op = app.test_client()
    sign_in(op, clock, "op")
    search(op, plate="7ABC123", **GOOD)
    assert op.get("/audit").status_code == 403 and op.get("/audit/records.csv").status_code == 403
    aud = app.test_client()
    sign_in(aud, clock, "aud")
    page = aud.get("/audit")
    assert page.status_code == 200 and b"Chain intact" in page.data and GOOD["case"].encode() in page.data
    rows = list(csv.DictReader(io.StringIO(aud.get("/audit/records.csv").get_data(as_text=True))))
    setup = ("security event", "hotlist change")  # the fixture's accounts and list, the sign-ins (LG-6)
    accesses = [r["action"] for r in rows if r["purpose_category"] not in setup]
    assert accesses == ["search", "audit review", "audit export"]  # reads of the log too (LG-6)
    assert any(r["case_number"] == GOOD["case"] and r["username"] == "op" for r in rows)
    unlock(store_of(app))
    store_of(app).database.execute_sql("UPDATE access_records SET purpose_text = 'nothing to see' "
                                       "WHERE action = 'search'")
    page = aud.get("/audit")  # the page checked the whole chain a moment ago: only newer records now
    assert b"Chain intact" in page.data and b"walked in full 0 min ago" in page.data
    page = aud.get("/audit?full=1")  # the auditor asks for the whole walk
    assert b"Chain BROKEN" in page.data
    assert b"Chain BROKEN" in aud.get("/audit").data  # and after a failure every view walks it all
    admin = app.test_client()
    sign_in(admin, clock, "admin")
    assert admin.get("/audit").status_code == 200


def test_the_csv_export_streams_every_record_in_chunks(app, clock, monkeypatch) -> None:
    """A million records must not be built in memory: the export is streamed CHUNK rows at a time, all of them."""
    from webui import audit as audit_page
    monkeypatch.setattr(audit_page, "CHUNK", 2)
    fill(store_of(app), 7)
    aud = app.test_client()
    sign_in(aud, clock, "aud")
    r = aud.get("/audit/records.csv")
    assert r.status_code == 200 and r.is_streamed
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert [int(x["n"]) for x in rows] == [rec.n for rec in records.all_records(store_of(app))]
    assert sum(x["action"] == "search" for x in rows) == 7 and rows[-1]["action"] == "audit export"
