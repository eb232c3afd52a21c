"""Exigent searches and their review by a supervisor (POLICY LG-2, AC-2), and the accesses LG-1 adds.

Real app, real store: the review is a new record naming the search (records are
append-only); the queue shows what has no review yet. Also here: every access record goes
to the hub through the outbox in its own transaction (LG-3), and the read view, alert
acknowledgement, hotlist change and sign-in events are recorded (LG-1, LG-6).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from appliance.audit import records, review
from appliance.hub.items import access_item, render
from appliance.hotlists.repository import replace_list
from test_access_control import START, clock, folder, password_step, sign_in, store_of  # noqa: F401 - fixtures
from test_alerts import STOLEN, entries
from test_audit import GOOD, app, kinds, search  # noqa: F401 - the app fixture with an agency ORI
from test_store import T0, make_read

EXIGENT = {"category": "exigent circumstances", "case": "",
           "purpose": "child taken from Elm St park minutes ago, witness gave partial plate"}


def exigent_search(app, clock, user: str = "op") -> records.StoredRecord:
    client = app.test_client()
    sign_in(client, clock, user)
    assert search(client, plate="7ABC*", **EXIGENT).status_code == 200
    return kinds(app, "search")[0]


def test_the_queue_lists_exigent_searches_until_reviewed(app, clock) -> None:
    """LG-2: an exigent search waits for review; a supervisor's decision is a new record; the queue empties."""
    rec = exigent_search(app, clock)
    searched = app.test_client()
    sign_in(searched, clock, "op")
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    page = sup.get("/review")
    assert page.status_code == 200 and rec.id.encode() in page.data
    assert searched.get("/review").status_code == 403  # operators do not review
    r = sup.post("/review", data={"record_id": rec.id, "decision": "approved", "note": "child found, justified"})
    assert r.status_code == 303
    [done] = kinds(app, "exigent review")
    assert done.username == "sup" and done.result_ids == [rec.id] and done.query["decision"] == "approved"
    assert done.purpose_category == "exigent review" and done.purpose_text == "child found, justified"
    assert records.get(store_of(app), rec.id).review == "required"  # the search's record is unchanged
    assert review.queue(store_of(app)) == [] and rec.id.encode() not in sup.get("/review").data.split(b"Latest")[0]
    assert records.verify(store_of(app))[0]


@pytest.mark.parametrize("form, words", [
    ({"decision": "fine"}, b"decision must be one of"),
    ({"decision": "not justified", "note": "no"}, b"why the search was not justified"),
    ({"decision": "approved", "record_id": "nope"}, b"no access record"),
])
def test_a_bad_review_is_refused_and_says_why(app, clock, form, words) -> None:
    rec = exigent_search(app, clock)
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    r = sup.post("/review", data={"record_id": rec.id, **form})
    assert r.status_code == 400 and words in r.data
    assert kinds(app, "exigent review") == [] and [q.id for q in review.queue(store_of(app))] == [rec.id]


def test_a_search_is_reviewed_once_and_never_by_its_author(app, clock) -> None:
    rec = exigent_search(app, clock, "sup")
    store = store_of(app)
    with pytest.raises(review.ReviewError, match="their own"):
        review.record_review(store, rec.id, "approved", "", reviewer="sup", client="x")
    review.record_review(store, rec.id, "not justified", "no emergency was reported", reviewer="admin", client="x")
    with pytest.raises(review.ReviewError, match="already been reviewed"):
        review.record_review(store, rec.id, "approved", "", reviewer="other", client="x")
    plain = records.append(store, records.AccessRecord(username="op", action="search", client="x",
                                                       purpose_category="criminal investigation"))
    with pytest.raises(review.ReviewError, match="not an exigent search"):
        review.record_review(store, plain.id, "approved", "", reviewer="admin", client="x")


# -- records go to the hub (LG-3) ----------------------------------------------------------------------------

def test_every_access_record_is_queued_for_the_hub_in_its_transaction(app, clock) -> None:
    """LG-3: each record enters the outbox as an "access" item whose seq is its place in the chain."""
    store = store_of(app)
    client = app.test_client()
    sign_in(client, clock, "op")
    search(client, plate="7ABC123", **GOOD)
    recs = list(records.all_records(store))
    queued = [e for e in store.outbox_pending(1000) if e.kind == "access"]
    assert [e.id for e in queued] == [r.id for r in recs] and [e.seq for e in queued] == [r.n for r in recs]
    for entry, rec in zip(queued, recs):
        assert render(store, entry) == access_item(rec)
    item = access_item(recs[-1])
    assert item["kind"] == "access" and item["seq"] == recs[-1].n and item["hash"] == recs[-1].hash
    assert item["purpose_text"] == GOOD["purpose"] and item["agency"] == "CA0010000"
    before = len(store.outbox_pending(1000))
    store.database.execute_sql("CREATE TRIGGER jam BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'full'); END")
    assert search(client, plate="7ABC123", **GOOD).status_code == 503  # no outbox entry, no record, no search
    store.database.execute_sql("DROP TRIGGER jam")
    assert len(list(records.all_records(store))) == len(recs) and len(store.outbox_pending(1000)) == before


# -- the other accesses of LG-1 and the security events of LG-6 ----------------------------------------------

def test_the_read_view_is_recorded_and_covers_its_images(app, clock) -> None:
    client = app.test_client()
    sign_in(client, clock, "op")
    read_id = store_of(app).latest_reads(1)[0].id
    page = client.get(f"/reads/{read_id}")
    assert page.status_code == 200 and b"7ABC123" in page.data
    [view] = kinds(app, "read view")
    assert view.result_ids == [read_id] and view.username == "op" and view.agency == "CA0010000"
    for kind in ("crop", "frame"):
        assert client.get(f"/reads/{read_id}/{kind}?via={view.id}").status_code == 200
    assert kinds(app, "image view") == []  # shown under the read view's record
    assert client.get(f"/reads/{read_id}/frame").status_code == 200 and len(kinds(app, "image view")) == 1
    assert client.get("/reads/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_hotlist_change_is_recorded_with_the_list_change(app) -> None:
    store = store_of(app)
    replace_list(store, STOLEN, entries("7ABC123"), "clerk", now=T0, client="10.1.1.1", agency="CA0010000")
    [rec] = [r for r in kinds(app, "hotlist change") if r.query["list_id"] == STOLEN.id]
    assert rec.username == "clerk" and rec.client == "10.1.1.1" and rec.result_count == 1
    assert rec.query["list_id"] == STOLEN.id and rec.query["added"] == 1 and rec.agency == "CA0010000"
    store.database.execute_sql("CREATE TRIGGER jam BEFORE INSERT ON access_records BEGIN SELECT RAISE(ABORT, 'no'); END")
    with pytest.raises(Exception, match="no"):
        replace_list(store, STOLEN, [], "clerk", now=T0, allow_empty=True)
    count = "SELECT count(*) FROM hotlist_entries WHERE list_id = ?"
    assert store.database.execute_sql(count, (STOLEN.id,)).fetchone()[0] == 1  # not changed


def test_sign_ins_failures_and_lockouts_are_security_events(app, clock) -> None:
    """LG-6: sign-in, failures and the lockout enter the chain with the client address."""
    client = app.test_client()
    sign_in(client, clock, "op")
    [ok] = kinds(app, "sign-in")
    assert ok.username == "op" and ok.purpose_category == "security event" and ok.outcome == "ok"
    other = app.test_client()
    for _ in range(5):
        password_step(other, "target", "wrong password entirely")
    failures = kinds(app, "sign-in failure")
    assert len(failures) == 5 and {f.username for f in failures} == {"target"}
    assert all(f.outcome == "refused" and "password" not in str(f.query).replace("'password'", "") for f in failures)
    assert [r.username for r in kinds(app, "account locked")] == ["target"]
    client.post("/logout")
    assert [r.username for r in kinds(app, "sign-out")] == ["op"]
    assert records.verify(store_of(app))[0]


def test_an_alert_acknowledgement_is_recorded_with_it(app, clock) -> None:
    from appliance.alerts import open_alerts
    from appliance.alerts.writer import AlertingWriter
    from appliance.hotlists.repository import MatcherCache
    store = store_of(app)
    replace_list(store, STOLEN, entries("5XYZ789", at=START), "clerk", now=START)
    AlertingWriter(store, MatcherCache(store, clock=lambda: START).current, clock=lambda: START)(
        make_read("5XYZ789", at=START, seed=7))
    [alert] = open_alerts(store)
    client = app.test_client()
    sign_in(client, clock, "op")
    store.database.execute_sql("CREATE TRIGGER jam BEFORE INSERT ON access_records BEGIN SELECT RAISE(ABORT, 'no'); END")
    assert client.post("/alerts", data={"alert_id": alert.id, "outcome": "confirmed"}).status_code == 503
    assert [a.id for a in open_alerts(store)] == [alert.id]  # not acknowledged without its record (LG-4)
    store.database.execute_sql("DROP TRIGGER jam")
    assert client.post("/alerts", data={"alert_id": alert.id, "outcome": "confirmed"}).status_code == 303
    [rec] = kinds(app, "alert acknowledgement")
    assert rec.result_ids == [alert.read_id] and rec.query == {"alert_id": alert.id, "outcome": "confirmed"}
    assert open_alerts(store) == [] and clock() - START < timedelta(hours=1)


def test_deleting_images_the_hub_has_not_confirmed_is_a_recorded_purge_override(tmp_path) -> None:
    """LG-1, RT-1: the disk critically full, images of unconfirmed reads go, each batch with an access record."""
    from appliance.store.retention import Watermarks
    from test_store import open_store
    from test_store_retention import FillingDisk, small
    store = open_store(tmp_path / "store")
    reads = [small(f"CAP{i:04d}", T0 + timedelta(minutes=i), seed=i) for i in range(6)]
    for r in reads:
        store.add_read(r)
    store.mark_confirmed([reads[0].id], at=T0)
    per_read = FillingDisk(store.folder, 1, 0).images() / 6
    disk = FillingDisk(store.folder, total=int(per_read * 100), other=int(per_read * 93))  # 99 % used
    report = store.free_space(Watermarks(0.95, 0.90), disk)
    overrides = [r for r in records.all_records(store) if r.action == "purge override"]
    overridden = {i for r in overrides for i in r.result_ids}
    assert overridden and reads[0].id not in overridden  # the confirmed one is an ordinary purge
    assert overridden == set(report.items) - {reads[0].id}
    assert all(r.username == "system" and r.query["purge_id"] == report.id for r in overrides)
    store.close()
