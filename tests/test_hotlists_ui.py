"""Hotlist pages, the every-page alert banner and its endpoint, the accuracy page, and `alpr hotlist`.

POLICY AC-2 (operators view lists, supervisors and administrators change them), TR-1
(hotlist changes and alert handling need training), HL-1 (who and when on each change),
HL-4 (accuracy report), RT-5 (manual entries expire after 30 days unless renewed with a
reason), AC-7 (the banner's poll does not keep an idle session alive). Real app, real store.
"""

from __future__ import annotations

import re
import time
import tracemalloc
from datetime import datetime, timedelta, timezone

from appliance import totp
from appliance.alerts import acknowledge, open_alerts, record_read
from appliance.hotlists import Hotlist, Matcher, synced_entry
from appliance.hotlists.command import main as hotlist_cli
from appliance.hotlists.importer import run_import
from appliance.hotlists.repository import import_log, load_list, load_lists, replace_list
from test_access_control import PASSWORD, START, app, clock, folder, secret_of, sign_in, store_of  # noqa: F401 (fixtures)
from test_store import make_read, open_store

STOLEN = Hotlist("list-stolen", "Stolen vehicles", "stolen_vehicle", priority=1, source_system="CLETS via hub")
CSV = (b"Plate No,ST,Why\n"
       b"7ABC1O3,CA,stolen\n"  # a look-alike twin of the next line
       b"7ABC103,CA,stolen\n"
       b"5XYZ789,,stolen\n"  # no state
       b"7A#B,CA,bad plate\n"  # rejected, line 5
       b"4DEF456,CA\n")  # rejected, line 6: too few fields


def _new_list(client) -> str:
    r = client.post("/hotlists", data={"name": "Local BOLO", "source": "bolo", "priority": "2"})
    assert r.status_code == 303
    return r.headers["Location"].rsplit("/", 1)[1]


def test_supervisor_creates_a_list_and_manages_entries_through_the_repository(app, clock):  # noqa: F811
    """RT-5: a manual entry expires after 30 days; renewing needs a reason; expiring stops it matching."""
    client = app.test_client()
    sign_in(client, clock, "sup")
    list_id = _new_list(client)
    r = client.post(f"/hotlists/{list_id}/entries", data={"plate": "7abc-123", "state": "ca", "reason": "",
                                                          "description": "blue Civic"})
    assert r.status_code == 400 and b"needs a reason" in r.data
    r = client.post(f"/hotlists/{list_id}/entries", data={"plate": "7abc-123", "state": "ca", "reason": "burglary suspect",
                                                          "case_number": "24-1001", "description": "blue Civic"})
    assert r.status_code == 303
    hotlist, (e,) = load_list(store_of(app), list_id)
    assert (hotlist.name, hotlist.source, e.plate, e.state, e.entered_by, e.manual) == \
        ("Local BOLO", "bolo", "7ABC123", "CA", "sup", True)
    assert e.expires_at - e.entered_at == timedelta(days=30)
    r = client.post(f"/hotlists/{list_id}/entries/{e.id}", data={"action": "edit", "state": "NV", "reason": "robbery",
                                                                 "description": "blue Civic", "case_number": "24-1002"})
    assert r.status_code == 303
    clock.advance(days=20)
    client = app.test_client()
    sign_in(client, clock, "sup")  # 20 days on: a new session
    r = client.post(f"/hotlists/{list_id}/entries/{e.id}", data={"action": "renew", "renew_reason": " "})
    assert r.status_code == 400 and b"needs a reason" in r.data
    r = client.post(f"/hotlists/{list_id}/entries/{e.id}", data={"action": "renew", "renew_reason": "still outstanding"})
    assert r.status_code == 303
    (e2,) = load_list(store_of(app), list_id)[1]
    assert e2.id == e.id and (e2.state, e2.reason, e2.case_number) == ("NV", "robbery", "24-1002")
    assert e2.renewals[-1].reason == "still outstanding" and e2.renewals[-1].by == "sup"
    assert e2.expires_at == e2.renewals[-1].at + timedelta(days=30)
    page = client.get(f"/hotlists/{list_id}").get_data(as_text=True)
    assert "7ABC123" in page and "still outstanding" in page and "Import a file" in page
    r = client.post(f"/hotlists/{list_id}/entries/{e.id}", data={"action": "expire"})
    assert r.status_code == 303
    (e3,) = load_list(store_of(app), list_id)[1]
    assert e3.is_expired(clock()) and Matcher(load_lists(store_of(app)), clock=clock).match(make_read("7ABC123")) == []
    assert [x.who for x in import_log(store_of(app), list_id)] == ["sup"] * 5  # create, add, edit, renew, expire
    assert client.post(f"/hotlists/{list_id}/entries/{e.id}", data={"action": "delete"}).status_code == 400
    assert client.post(f"/hotlists/{list_id}/entries/nope", data={"action": "expire"}).status_code == 404


def test_operator_sees_lists_but_cannot_change_them(app, clock):  # noqa: F811
    """AC-2: operators view; changes are refused with the reason, and nothing changes."""
    replace_list(store_of(app), STOLEN, [synced_entry(STOLEN.id, "7ABC123", entered_by="CLETS", entered_at=START)],
                 "sync", now=START - timedelta(hours=30))
    client = app.test_client()
    sign_in(client, clock, "op")
    page = client.get("/hotlists").get_data(as_text=True)
    assert "Stolen vehicles" in page and "older than 24 hours" in page and "New list" not in page  # HL-2
    page = client.get(f"/hotlists/{STOLEN.id}").get_data(as_text=True)
    assert "7ABC123" in page and "Add an entry" not in page
    for r in (client.post("/hotlists", data={"name": "x", "source": "bolo"}),
              client.post(f"/hotlists/{STOLEN.id}/entries", data={"plate": "1AAA111", "reason": "x"}),
              client.get(f"/hotlists/{STOLEN.id}/import")):
        assert r.status_code == 403 and b"does not give access" in r.data
    assert len(load_list(store_of(app), STOLEN.id)[1]) == 1


def test_list_pages_read_only_the_entries_they_show(app, clock, monkeypatch):  # noqa: F811
    """A long list: the index counts in SQL and the list page builds at most SHOWN entries; the filter still finds any."""
    from appliance.hotlists import repository
    from webui.hotlists import SHOWN
    plates = [f"{i % 9 + 1}K{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}{i:04d}" for i in range(3 * SHOWN)]
    replace_list(store_of(app), STOLEN, [synced_entry(STOLEN.id, p, entered_by="CLETS", entered_at=START) for p in plates]
                 + [synced_entry(STOLEN.id, "7AB*12", entered_by="CLETS", entered_at=START)], "sync", now=START)
    built = []
    real_entry_of = repository._entry_of
    monkeypatch.setattr(repository, "_entry_of", lambda row: built.append(row) or real_entry_of(row))
    client = app.test_client()
    sign_in(client, clock, "op")
    page = client.get("/hotlists").get_data(as_text=True)
    assert f"{3 * SHOWN + 1}" in page and built == []
    page = client.get(f"/hotlists/{STOLEN.id}").get_data(as_text=True)
    assert f"Showing the first {SHOWN} of {3 * SHOWN + 1}" in page and len(built) == SHOWN
    built.clear()
    page = client.get(f"/hotlists/{STOLEN.id}?plate={plates[-1]}").get_data(as_text=True)
    assert plates[-1] in page and plates[0] not in page and len(built) == 1
    page = client.get(f"/hotlists/{STOLEN.id}?plate=7AB*12").get_data(as_text=True)
    assert "7AB*12" in page and "No entries" not in page  # a pattern entry is found by its literal text
    sup = app.test_client()
    sign_in(sup, clock, "sup")
    built.clear()
    page = sup.get(f"/hotlists/{STOLEN.id}/import").get_data(as_text=True)
    assert f"{3 * SHOWN + 1}" in page and built == []  # the import form counts the list, it does not load it


def test_import_checks_first_then_applies_with_the_report(app, clock):  # noqa: F811
    client = app.test_client()
    sign_in(client, clock, "admin")
    list_id = _new_list(client)
    form = {"format": "csv", "columns": "plate=Plate No,state=ST,reason=Why", "check_only": "1"}
    r = client.post(f"/hotlists/{list_id}/import", data={**form, "file": (_io(CSV), "list.csv")},
                    content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Check only: nothing changed" in page
    assert "7ABC1O3 and 7ABC103 differ only in look-alike characters" in page and "5XYZ789 has no state" in page
    assert re.search(r"<td>5</td><td>plate .*has &#39;#&#39;", page) and "<td>6</td><td>has 2 fields" in page
    assert load_list(store_of(app), list_id)[1] == []
    del form["check_only"]
    r = client.post(f"/hotlists/{list_id}/import", data={**form, "file": (_io(CSV), "list.csv")},
                    content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert "The list now has 3 entries: 3 added, 0 removed, 0 changed, 2 lines rejected" in page
    assert sorted(e.plate for e in load_list(store_of(app), list_id)[1]) == ["5XYZ789", "7ABC103", "7ABC1O3"]
    r = client.post(f"/hotlists/{list_id}/import", data={"format": "csv", "file": (_io("plate\n7ABC123\n".encode("utf-16")), "u16.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and b"save it as UTF-8" in r.data
    r = client.post(f"/hotlists/{list_id}/import", data={"format": "csv", "file": (_io(b""), "empty.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and b"empty" in r.data
    assert len(load_list(store_of(app), list_id)[1]) == 3  # failed imports changed nothing


def test_a_large_upload_is_accepted_for_managers_only(app, clock):  # noqa: F811
    body = b"plate,state\n" + b"".join(b"%dABC%03d,CA\n" % (i % 9 + 1, i % 1000) for i in range(9000))
    assert len(body) > app.config["MAX_CONTENT_LENGTH"]
    client = app.test_client()
    sign_in(client, clock, "admin")
    list_id = _new_list(client)
    r = client.post(f"/hotlists/{list_id}/import", data={"format": "csv", "check_only": "1", "file": (_io(body), "l.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and b"duplicate" in r.data


def test_every_page_banner_endpoint_counts_open_alerts_without_plate_text(app, clock):  # noqa: F811
    client = app.test_client()
    sign_in(client, clock, "op")
    assert client.get("/alerts/summary.json").get_json() == {"open": 0, "newest": None}
    s = store_of(app)
    replace_list(s, STOLEN, [synced_entry(STOLEN.id, "7ABC123", entered_by="CLETS", entered_at=START)], "sync", now=START)
    read = make_read("7ABC123", at=START, seed=5)
    (alert,) = record_read(s, read, Matcher(load_lists(s), clock=lambda: START).match(read), START)
    r = client.get("/alerts/summary.json")
    body = r.get_json()
    assert body["open"] == 1 and body["newest"]["id"] == alert.id and body["newest"]["list"] == "Stolen vehicles"
    assert "7ABC123" not in r.get_data(as_text=True)  # no plate data in a background poll
    page = client.get("/hotlists").get_data(as_text=True)
    assert 'src="/static/alerts.js" data-summary="/alerts/summary.json"' in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # CSP: no inline script anywhere
    assert "script-src" not in app.config.get("CSP", "") and "'unsafe-inline'" not in r.headers["Content-Security-Policy"]
    js = client.get("/static/alerts.js").get_data(as_text=True)
    assert "AudioContext" in js and "createOscillator" in js  # the beep, no audio file
    acknowledge(s, alert.id, "confirmed", "op", START)
    assert client.get("/alerts/summary.json").get_json()["open"] == 0


def test_the_banner_poll_does_not_keep_an_idle_session_alive(app, clock):  # noqa: F811
    """AC-7: a page left open polls every few seconds, yet the session ends after 30 idle minutes."""
    client = app.test_client()
    sign_in(client, clock, "op")
    for _ in range(5):
        clock.advance(minutes=5)
        assert client.get("/alerts/summary.json").status_code == 200
    clock.advance(minutes=6)  # 31 minutes since the last real request
    r = client.get("/alerts/summary.json")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_banner_script_only_for_roles_that_handle_alerts(app, clock):  # noqa: F811
    client = app.test_client()
    sign_in(client, clock, "aud")
    assert b"alerts.js" not in client.get("/health").data
    assert client.get("/alerts/summary.json").status_code == 403


def test_accuracy_page_and_csv(app, clock):  # noqa: F811
    """HL-4: misread and stale outcomes per list and look-alike pair."""
    s = store_of(app)
    replace_list(s, STOLEN, [synced_entry(STOLEN.id, "7ABC123", entered_by="CLETS", entered_at=START)], "sync", now=START)
    read = make_read("7A8C123", at=START, seed=5)
    (alert,) = record_read(s, read, Matcher(load_lists(s), clock=lambda: START).match(read), START)
    acknowledge(s, alert.id, "misread", "sup", START)
    client = app.test_client()
    sign_in(client, clock, "sup")
    page = client.get("/alerts/accuracy?days=7").get_data(as_text=True)
    assert "Stolen vehicles" in page and "8/B" in page and "100 %" in page
    r = client.get("/alerts/accuracy.csv?days=7")
    assert r.mimetype == "text/csv" and "list,Stolen vehicles,1,1,0,1,0,0,1.0000,0.0000" in r.get_data(as_text=True)
    assert client.get("/alerts/accuracy?days=0").status_code == 400
    assert open_alerts(s) == []


def _io(data: bytes):
    import io
    return io.BytesIO(data)


# ---------------------------------------------------------------- alpr hotlist

def _cli(folder, tmp_path, user, *args, step_offset: int = 0) -> int:
    """`alpr hotlist ...` signed in as `user` (AC-10); a TOTP code works once, so successive calls
    of one user take the codes of successive steps (the window allows one step either side)."""
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    code = totp.code_at(secret_of(user), totp.step_of(datetime.now(timezone.utc)) + step_offset)
    return hotlist_cli([*args, "--store", str(folder), "--user", user, "--password-file", str(tmp_path / "pw"),
                        "--totp", code])


def test_cli_import_check_only_then_apply_list_and_show(folder, tmp_path, capsys):
    f = tmp_path / "list.csv"
    f.write_bytes(CSV)
    cols = "plate=Plate No,state=ST,reason=Why"
    assert _cli(folder, tmp_path, "sup", "import", str(f), "--list", "Hot", "--format", "csv", "--columns", cols,
                step_offset=-1) == 2
    assert "give --source" in capsys.readouterr().err
    assert _cli(folder, tmp_path, "sup", "import", str(f), "--list", "Hot", "--format", "csv", "--columns", cols,
                "--source", "stolen_vehicle", "--check-only") == 1
    out = capsys.readouterr().out
    assert "rejected line 5: plate" in out and "rejected line 6: has 2 fields" in out
    assert "lookalike twin 1" in out and "no state 1" in out and "not changed" in out
    assert _cli(folder, tmp_path, "op", "import", str(f), "--list", "Hot", "--format", "csv", "--columns", cols,
                "--source", "stolen_vehicle") == 2  # operators view lists, they do not change them
    assert "does not give access" in capsys.readouterr().err
    assert _cli(folder, tmp_path, "admin", "import", str(f), "--list", "Hot", "--format", "csv", "--columns", cols,
                "--source", "stolen_vehicle") == 0
    assert "3 entries (3 added, 0 removed, 0 changed, 2 rejected)" in capsys.readouterr().out
    assert hotlist_cli(["list", "--store", str(folder)]) == 0  # names and counts only: no sign-in
    assert re.search(r"Hot\tstolen_vehicle\tpriority 3\t3 entries", capsys.readouterr().out)
    assert _cli(folder, tmp_path, "op", "show", "hot", step_offset=1) == 0
    out = capsys.readouterr().out
    assert "by admin: 3 entries" in out and "7ABC1O3" in out
    assert _cli(folder, tmp_path, "sup", "show", "nope", step_offset=1) == 2 and "no list 'nope'" in capsys.readouterr().err
    assert _cli(folder, tmp_path, "op", "show", "hot", step_offset=1) == 2  # the same code again: refused
    assert "already used" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('[{"plate": "7ABC123"}, {"plate": ')
    assert _cli(folder, tmp_path, "admin", "import", str(bad), "--list", "Hot", "--format", "json", step_offset=1) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_a_10k_line_import_end_to_end_is_timed_with_peak_memory(tmp_path, capsys):
    """Parse, check and replace into a real store; the 1M-line figure comes from `alpr bench hotlist`."""
    store = open_store(tmp_path / "store")
    try:
        body = "plate,state,reason\n" + "".join(f"{i % 9 + 1}{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}"
                                                f"{chr(65 + i // 676 % 26)}{i % 1000:03d},CA,stolen\n"
                                                for i in range(10_000)) + "7A#,CA,bad\n"
        hotlist = Hotlist("big", "Big", "stolen_vehicle")
        tracemalloc.start()
        t = time.perf_counter()
        outcome = run_import(store, hotlist, body.encode("latin-1"), "csv", "clerk", START)
        took = time.perf_counter() - t
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        with capsys.disabled():
            print(f"\n10k-line import into the store: {took:.2f} s, peak Python memory {peak:.1f} MB")
        assert outcome.applied.entries == len(load_list(store, "big")[1]) == len(outcome.parsed.entries)
        assert [r.line for r in outcome.parsed.rejected] == [10_002]
        assert took < 60
    finally:
        store.close()
