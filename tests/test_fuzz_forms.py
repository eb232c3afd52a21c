"""Fuzzing the forms and query parameters (issue #9; POLICY LG-1, LG-2, LG-4) with hypothesis.

Whatever arrives in the search form, the audit report's filters, the review form or the
alert acknowledgement, the real app answers without a 500, and every access record it
writes has the fields LG-1 requires. Examples are few (CPU is shared); the strategies mix
valid values with junk so both sides of each check are reached.
"""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.audit import records
from appliance.audit.purpose import EXIGENT
from test_access_control import clock, folder, sign_in, store_of  # noqa: F401 - fixtures
from test_audit import GOOD, app  # noqa: F401 - the app fixture with an agency ORI

FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
junk = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
plate = st.one_of(st.sampled_from(["7ABC123", "7AB*", "?ABC12?", "*", "7abc123", ""]),
                  st.text(alphabet=string.ascii_uppercase + string.digits + "?*", max_size=20), junk)
when = st.one_of(st.sampled_from(["", "2026-11-30T04:00", "2026-12-01T09:30:00Z", "2026-02-30", "yesterday"]), junk)
category = st.one_of(st.sampled_from(records.PURPOSES), junk)
purpose = st.one_of(st.just(GOOD["purpose"]), st.sampled_from(["test", "investigation", ""]), junk)
case = st.one_of(st.just(GOOD["case"]), st.just(""), junk)
REQUIRED = ("id", "at", "username", "agency", "action", "purpose_category", "client", "outcome", "hash", "prev_hash")


def check_new_records(app, seen: int) -> int:  # noqa: F811
    """Every record after the first `seen` has LG-1's fields; returns how many there are now."""
    recs = list(records.all_records(store_of(app)))
    for r in recs[seen:]:
        for name in REQUIRED:
            assert str(getattr(r, name)).strip(), (name, r)
        assert r.result_count >= len(r.result_ids)
        if r.action == "search":
            assert r.purpose_category in records.PURPOSES and r.purpose_text.strip(), r
            assert r.case_number.strip() or r.purpose_category == EXIGENT, r
            assert r.review == ("required" if r.purpose_category == EXIGENT else "")
            assert set(r.query) & {"plate", "camera", "since", "until"} and "page" in r.query, r
    return len(recs)


def count(app) -> int:  # noqa: F811
    """Records so far (the fixture's account records come from the CLI side, without an agency)."""
    return len(list(records.all_records(store_of(app))))


def test_fuzz_the_search_form(app, clock) -> None:  # noqa: F811
    """No 500s; a search that runs is recorded with every field; one that does not run writes no search."""
    client = app.test_client()
    sign_in(client, clock, "op")
    seen = [count(app)]

    @FUZZ
    @given(plate=plate, camera=st.one_of(st.just(""), st.just("cam0"), junk), since=when, until=when,
           hits=st.sampled_from(["", "1", "yes"]), category=category, purpose=purpose, case=case,
           page=st.one_of(st.sampled_from(["", "1", "2", "41", "0", "-1"]), junk))
    def run(**params):
        before = len([r for r in records.latest(store_of(app), 10000) if r.action == "search"])
        r = client.get("/search", query_string={k: v for k, v in params.items() if v != ""})
        assert r.status_code in (200, 400), (r.status_code, params)
        after = len([r for r in records.latest(store_of(app), 10000) if r.action == "search"])
        assert after == before if r.status_code == 400 else after in (before, before + 1)  # refused: no search
        seen[0] = check_new_records(app, seen[0])

    run()
    assert records.verify(store_of(app))[0]


def test_fuzz_the_audit_report_filters(app, clock) -> None:  # noqa: F811
    client = app.test_client()
    sign_in(client, clock, "aud")
    start = count(app)

    @FUZZ
    @given(since=when, until=when, user=junk, purpose=st.one_of(category, junk), case=junk)
    def run(**params):
        for path in ("/audit/report", "/audit/report.csv"):
            r = client.get(path, query_string=params)
            assert r.status_code in (200, 400), (path, r.status_code, params)

    run()
    check_new_records(app, start)


def test_fuzz_the_review_and_acknowledgement_forms(app, clock) -> None:  # noqa: F811
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    start = count(app)

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(record_id=junk, decision=st.one_of(st.sampled_from(["approved", "not justified"]), junk), note=junk,
           alert_id=junk, outcome=st.one_of(st.sampled_from(["confirmed", "misread"]), junk))
    def run(record_id, decision, note, alert_id, outcome):
        r = sup.post("/review", data={"record_id": record_id, "decision": decision, "note": note})
        assert r.status_code == 400, r.status_code  # there is nothing to review: always a clear refusal
        r = sup.post("/alerts", data={"alert_id": alert_id, "outcome": outcome})
        assert r.status_code == 400, r.status_code  # there is no such alert

    run()
    assert check_new_records(app, start) == start  # nothing was reviewed or acknowledged, so nothing recorded
