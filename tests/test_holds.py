"""Legal holds (POLICY RT-3, LG-1, LG-4, AC-2): held reads survive every purge and go after release;
placing and releasing are access records; the holds page and the hold form, by role.

Real encrypted stores, the real app and its test client.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from appliance.audit import holds, records
from appliance.audit.holds import Actor
from appliance.errors import EvidenceError
from appliance.store.retention import RetentionPolicy, Watermarks
from test_access_control import clock, folder, sign_in, store_of  # noqa: F401 - fixtures
from test_store import T0, make_read, open_store, pattern
from webui import create_app

NOW = (T0 + timedelta(days=400)).replace(microsecond=0)
SUP = Actor("sup", "10.0.0.7", "CA0010000")
WHY = "suspect vehicle in the Elm St burglary, kept for court"


def small(text: str, seconds: int):
    return make_read(text, at=T0 + timedelta(seconds=seconds), seed=seconds + 1, frame=pattern(120, 160, seconds + 1))


@pytest.fixture
def store(tmp_path: Path):
    s = open_store(tmp_path / "store")
    yield s
    s.close()


def three(store) -> list[str]:
    reads = [small(t, i) for i, t in enumerate(["HELD1", "HELD2", "FREE3"])]
    for r in reads:
        store.add_read(r)
    store.mark_confirmed([r.id for r in reads], at=T0 + timedelta(hours=1))  # the hub has them: all due
    return [r.id for r in reads]


def test_held_reads_and_their_images_survive_purges_and_go_after_release(store) -> None:
    """RT-3: a hold keeps data past its period, through retention and capacity purges, until released."""
    a, b, c = three(store)
    hold = holds.place(store, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a, b],
                       actor=SUP, now=NOW)
    assert hold.active and hold.read_ids == tuple(sorted([a, b])) and hold.placed_by == "sup"
    assert store.get_read(a).hold and not store.get_read(c).hold
    report = store.purge(NOW, RetentionPolicy())
    assert report.reads_deleted == 1 and store.get_read(c) is None
    capacity = store.free_space(Watermarks(0.5, 0.4), disk_usage=lambda: (99, 100))
    assert capacity.images_deleted == 0  # nothing but held reads left: their images stay too
    for i in (a, b):
        for kind in ("crop", "frame"):
            assert store.image_bytes(i, kind)[:3] == b"\xff\xd8\xff"

    released = holds.release(store, hold.id, reason="case closed, court released the evidence",
                             actor=Actor("rec", "10.0.0.8"), now=NOW + timedelta(days=1))
    assert (released.released_by, released.released_at) == ("rec", records.at_text(NOW + timedelta(days=1)))
    assert not released.active and not store.get_read(a).hold
    assert store.purge(NOW + timedelta(days=2)).reads_deleted == 2
    assert store.get_read(a) is None and store.get_read(b) is None
    assert holds.get(store, hold.id).read_ids == tuple(sorted([a, b]))  # the hold still names what it kept


def test_a_read_under_two_holds_stays_until_both_are_released(store) -> None:
    """RT-3: releasing one case's hold does not free a read another case still holds."""
    a, b, _ = three(store)
    first = holds.place(store, case_number="24-000001", reason=WHY, requester="Det. Ruiz", read_ids=[a, b],
                        actor=SUP, now=NOW)
    holds.place(store, case_number="24-000002", reason=WHY, requester="DA's office", read_ids=[a], actor=SUP, now=NOW)
    holds.release(store, first.id, reason="first case closed by the court", actor=SUP, now=NOW)
    assert store.get_read(a).hold and not store.get_read(b).hold
    store.purge(NOW + timedelta(days=1))
    assert store.get_read(a) is not None and store.get_read(b) is None
    assert [h.case_number for h in holds.holds_of_read(store, a)] == ["24-000002"]
    assert [h.case_number for h in holds.list_holds(store, active=False)] == ["24-000001"]


def test_placing_and_releasing_are_access_records_in_the_chain(store) -> None:
    """LG-1: a hold change is an access record with its case, reason and reads; the chain verifies."""
    a, b, _ = three(store)
    hold = holds.place(store, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a, b],
                       actor=SUP, now=NOW)
    holds.release(store, hold.id, reason="case closed, court released it", actor=SUP, now=NOW)
    placed, freed = sorted(records.latest(store, 10), key=lambda r: r.n)
    assert (placed.action, placed.case_number, placed.purpose_text, placed.username, placed.agency) == \
        ("legal hold placed", "24-001234", WHY, "sup", "CA0010000")
    assert sorted(placed.result_ids) == sorted([a, b]) and placed.query == {"hold": hold.id, "requester": "Det. Ruiz"}
    assert freed.action == "legal hold released" and freed.query == {"hold": hold.id}
    assert records.verify(store)[0]


def test_no_record_no_hold(store) -> None:
    """LG-4: when the access record cannot be written, the hold is not placed either."""
    a, _, _ = three(store)
    store.database.execute_sql("CREATE TRIGGER refuse BEFORE INSERT ON access_records "
                               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    with pytest.raises(Exception, match="disk says no"):
        holds.place(store, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a], actor=SUP)
    assert holds.list_holds(store) == [] and not store.get_read(a).hold


@pytest.mark.parametrize("change, words", [
    ({"case_number": "x"}, "case number is 3-40"),
    ({"reason": "court"}, "reason must be 10 to 500"),
    ({"requester": " "}, "requester must be 1 to 500"),
    ({"read_ids": []}, "names 1 to 1000 reads"),
    ({"read_ids": ["0190a000-0000-7000-8000-000000000000"]}, "no such read"),
    ({"purpose_category": "curiosity"}, "purpose category must be one of"),
])
def test_bad_hold_requests_say_what_is_allowed(store, change, words) -> None:
    a, _, _ = three(store)
    args = dict(case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a], actor=SUP) | change
    with pytest.raises(EvidenceError, match=words):
        holds.place(store, **args)
    assert holds.list_holds(store) == [] and records.latest(store) == []


def test_a_hold_is_released_once(store) -> None:
    a, _, _ = three(store)
    hold = holds.place(store, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a], actor=SUP)
    holds.release(store, hold.id, reason="case closed by the court", actor=SUP)
    with pytest.raises(EvidenceError, match="already released by sup"):
        holds.release(store, hold.id, reason="case closed by the court", actor=SUP)
    with pytest.raises(EvidenceError, match="no legal hold 'nope'"):
        holds.release(store, "nope", reason="case closed by the court", actor=SUP)


# -- the web UI ------------------------------------------------------------------------------------------

@pytest.fixture
def app(folder, clock):  # noqa: F811
    from appliance import users
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False, "agency": "CA0010000",
                              "password_hasher": users.cheap_hasher(), "clock": clock, "refresh_seconds": 0})
    yield app
    app.extensions["alpr"].store.close()


def test_the_holds_page_places_lists_and_releases_by_role(app, clock) -> None:
    """AC-2: supervisors and records managers hold and release; operators and auditors are refused."""
    read_id = store_of(app).latest_reads(1)[0].id
    form = {"case": "24-001234", "category": "criminal investigation", "reason": WHY, "requester": "Det. Ruiz",
            "read_ids": read_id}
    for name in ("op", "aud"):
        c = app.test_client()
        sign_in(c, clock, name)
        assert c.get("/holds").status_code == 403 and c.post("/holds", data=form).status_code == 403
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    bad = sup.post("/holds", data={**form, "reason": "x"})
    assert bad.status_code == 200 and b"reason must be 10 to 500" in bad.data and not holds.list_holds(store_of(app))
    found = sup.get("/search", query_string={"plate": "7ABC123", "category": "criminal investigation",
                                             "case": "24-001234",
                                             "purpose": "burglary on Elm St, witness saw a silver sedan leave"})
    assert b"Place a legal hold on this read" in found.data and b'value="24-001234"' in found.data
    detail = sup.get(f"/reads/{read_id}")
    assert b"Place a legal hold on this read" in detail.data and read_id.encode() in detail.data
    r = sup.post("/holds", data=form)
    assert r.status_code == 302, r.data
    [hold] = holds.list_holds(store_of(app))
    assert hold.read_ids == (read_id,) and store_of(app).get_read(read_id).hold
    rec = app.test_client()
    sign_in(rec, clock, "rec")
    page = rec.get("/holds")
    assert page.status_code == 200 and b"24-001234" in page.data and b"Det. Ruiz" in page.data
    r = rec.post("/holds/release", data={"hold_id": hold.id, "reason": "case closed, evidence returned"})
    assert r.status_code == 302
    assert holds.get(store_of(app), hold.id).released_by == "rec" and not store_of(app).get_read(read_id).hold
    page = rec.get("/holds")
    assert b"released by rec" in page.data
    actions = [r.action for r in records.latest(store_of(app), 100)]
    assert "legal hold placed" in actions and "legal hold released" in actions


def test_the_hold_commands_need_a_signed_in_holder(folder, tmp_path: Path) -> None:  # noqa: F811
    """AC-10, RT-3: `alpr hold place|release` sign a holder in and write access records like the UI."""
    import argparse
    from datetime import datetime, timezone

    from appliance import totp
    from appliance.audit import hold_command
    from appliance.store import Store
    from test_access_control import PASSWORD, secret_of
    with Store.open(folder) as s:
        read_id = s.latest_reads(1)[0].id
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    parser = argparse.ArgumentParser(prog="alpr")
    hold_command.add_parser(parser.add_subparsers(dest="command"))

    def hold(user: str, *args: str) -> int:
        code = totp.code_at(secret_of(user), totp.step_of(datetime.now(timezone.utc)))
        a = parser.parse_args(["hold", *args, "--store", str(folder), "--user", user,
                               "--password-file", str(tmp_path / "pw"), "--totp", code])
        return a.func(a)

    place = ("place", "--case", "24-001234", "--reason", WHY, "--requester", "Det. Ruiz", read_id)
    with pytest.raises(Exception, match="role \\(operator\\) does not give access"):
        hold("op", *place)
    assert hold("sup", *place) == 0
    with Store.open(folder) as s:
        [h] = holds.list_holds(s)
        assert s.get_read(read_id).hold and h.placed_by == "sup"
    assert hold("rec", "release", h.id, "--reason", "case closed by the court") == 0
    with Store.open(folder) as s:
        assert holds.get(s, h.id).released_by == "rec" and not s.get_read(read_id).hold
        actions = [(r.action, r.username, r.client) for r in records.latest(s, 100)]
    assert ("legal hold placed", "sup", "cli") in actions and ("legal hold released", "rec", "cli") in actions
