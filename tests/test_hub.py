"""The hub link (issue #6): outbox, forwarder against a real recording hub on loopback, pull API.

Nothing lost, nothing twice: whatever the hub does (down, 500, slow past the timeout,
dropped connections, partial acks) or the forwarder suffers (SIGKILL mid-batch), the hub
ends with every record once and no gap in any kind's seq.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from appliance import users
from appliance.config import Config
from appliance.hub import tokens
from appliance.hub.forwarder import Backoff, Forwarder, ingest_url
from appliance.hub.testhub import RecordingHub, wait_until
from appliance.ids import uuid7
from appliance.runtime import build_forwarder
from appliance.store import Store, schema
from appliance.store.times import to_rfc3339
from test_store import T0, make_read, pattern
from webui import create_app

REPO = Path(__file__).resolve().parents[1]


def small(i: int, text: str | None = None):
    """A read with small images (cheap to seal on a busy machine)."""
    at = T0 + timedelta(seconds=i)
    return make_read(text or f"HUB{i:04d}", at, id=uuid7(int(at.timestamp() * 1000)),
                     crop=pattern(32, 96, i), frame=pattern(120, 160, i))


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "store")
    yield s
    s.close()


def forwarder(store: Store, hub: RecordingHub, **kw) -> Forwarder:
    kw.setdefault("timeout_s", 2.0)
    kw.setdefault("sleep", lambda s: None)
    return Forwarder(store, hub.url, "dev-1", **kw)


def drain(f: Forwarder, attempts: int = 50) -> None:
    for _ in range(attempts):
        if f.store.outbox_backlog().count == 0:
            return
        f.run_once()
    raise AssertionError(f"the outbox still holds {f.store.outbox_backlog().count} records")


def assert_exactly_once(hub: RecordingHub, store: Store, reads) -> None:
    assert {r.id for r in reads} <= set(hub.records)
    assert hub.gaps("read") == [] and hub.seqs("read") == list(range(1, len(reads) + 1))
    assert all(store.get_read(r.id).confirmed_at is not None for r in reads)
    assert store.outbox_backlog().count == 0


# -- the outbox ----------------------------------------------------------------------------

def test_each_read_enters_the_outbox_with_its_seq(store: Store) -> None:
    reads = [small(i) for i in range(3)]
    store.add_read(reads[0])
    store.add_reads_batch(reads[1:])
    pending = store.outbox_pending(10)
    assert [(e.id, e.kind, e.seq) for e in pending] == [(r.id, "read", n) for n, r in enumerate(reads, 1)]
    assert [store.get_read(r.id).seq for r in reads] == [1, 2, 3]
    assert store.get_read(reads[2].id).as_json()["seq"] == 3
    b = store.outbox_backlog()
    assert b.count == 3 and b.by_kind == {"read": 3} and b.oldest is not None


def test_a_read_that_fails_to_store_leaves_no_outbox_entry_and_no_seq(store: Store) -> None:
    store.add_read(small(0))
    store.database.execute_sql("CREATE TEMP TRIGGER boom BEFORE INSERT ON reads WHEN NEW.text = 'BOOM0002' "
                               "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    with pytest.raises(Exception, match="refused by the test"):  # the row insert fails inside the transaction
        store.add_reads_batch([small(1), small(2, text="BOOM0002")])
    assert store.count() == 1 and [e.seq for e in store.outbox_pending(10)] == [1]
    store.add_read(small(3))
    assert [e.seq for e in store.outbox_pending(10)] == [1, 2]  # no gap left by the rollback


def test_a_purge_record_enters_the_outbox_when_its_run_ends(store: Store) -> None:
    report = store.purge(T0 + timedelta(days=1))
    [entry] = store.outbox_pending(10)
    assert (entry.id, entry.kind, entry.seq) == (report.id, "purge", 1)


def test_alerts_go_first(store: Store) -> None:
    for i in range(3):
        store.add_read(small(i))
    alert = uuid7()
    assert store.outbox_add("alert", alert, {"read": "x", "entry": "y"}, T0) == 1
    assert [e.kind for e in store.outbox_pending(10)] == ["alert", "read", "read", "read"]
    with pytest.raises(ValueError, match="outbox kind must be one of read, alert, access, purge, heartbeat"):
        store.outbox_add("gossip", uuid7(), {}, T0)


def test_a_v4_store_puts_what_the_hub_has_not_confirmed_into_the_outbox(tmp_path: Path) -> None:
    ids = [uuid7(int((T0 + timedelta(seconds=i)).timestamp() * 1000)) for i in range(3)]
    real = schema.LATEST
    folder = tmp_path / "v4"
    schema.LATEST = 4
    try:
        v4 = Store.open(folder)
        for n, i in enumerate(ids):
            v4.database.execute_sql(
                "INSERT INTO reads (id, device_id, camera_id, text, confidence, char_confidences, alternatives, "
                "first_seen, last_seen, clock_synced, box_x, box_y, box_w, box_h, direction, frames_seen, crop_file, "
                "frame_file, stored_at, confirmed_at, crop_gone, frame_gone) VALUES (?, 'dev-1', 'cam0', ?, 0.9, "
                "'[]', '[]', ?, ?, 1, 1, 2, 3, 4, 'left', 5, 'c', 'f', ?, ?, 'not stored', 'not stored')",
                (i, f"OLD{n}", to_rfc3339(T0), to_rfc3339(T0), to_rfc3339(T0), to_rfc3339(T0) if n == 0 else None))
        v4.close()
    finally:
        schema.LATEST = real
    with Store.open(folder) as s:
        assert [s.get_read(i).seq for i in ids] == [1, 2, 3]
        assert [(e.id, e.seq) for e in s.outbox_pending(10)] == [(ids[1], 2), (ids[2], 3)]
        s.add_read(small(9))
        assert s.get_read(s.latest_reads(1)[0].id).seq == 4  # the counter continues after the migrated reads


# -- the forwarder against a real hub -------------------------------------------------------

def test_everything_arrives_once_with_crops_and_confirmation(store: Store, hub: RecordingHub) -> None:
    reads = [small(i) for i in range(5)]
    store.add_reads_batch(reads)
    purge = store.purge(T0 + timedelta(days=1))
    f = forwarder(store, hub, batch_size=4)
    drain(f)
    assert_exactly_once(hub, store, reads)
    assert set(hub.arrivals.values()) == {1} and hub.duplicates == 0  # a healthy link sends nothing twice
    item = hub.records[reads[0].id]
    assert item["text"] == reads[0].text and item["device_id"] == "dev-1" and item["kind"] == "read"
    assert base64.b64decode(item["crop"])[:3] == b"\xff\xd8\xff" and "frame" not in item
    assert hub.records[purge.id]["kind"] == "purge" and hub.records[purge.id]["seq"] == 1
    assert store.purge_records(1)[0].id == purge.id and hub.devices == {"dev-1"}
    stats = f.stats()
    assert stats["backlog"] == 0 and stats["hub_last_success"] is not None and stats["hub_last_error"] is None


def test_hub_down_backs_off_exponentially_with_jitter_capped_at_30_s(store: Store, hub: RecordingHub) -> None:
    reads = [small(i) for i in range(3)]
    store.add_reads_batch(reads)
    hub.down()
    f = forwarder(store, hub)
    for _ in range(9):
        result = f.run_once()
        assert result.error and result.acked == 0
    # the delays the thread sleeps after failures in a row: the ceiling doubles from 0.5 s and stops at 30 s
    b = Backoff(base_s=0.5, rand=lambda: 1.0)
    assert [b.failure() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    lows = Backoff(base_s=0.5, rand=lambda: 0.0)
    assert [lows.failure() for _ in range(8)][-1] == 15  # jitter: between half and all of the ceiling
    assert store.outbox_backlog().count == 3 and f.stats()["hub_last_error"].startswith("could not reach the hub")
    assert store.outbox_pending(1)[0].attempts == 9
    hub.up()
    drain(f)
    assert_exactly_once(hub, store, reads)


def test_the_thread_rides_out_errors_and_recovers(store: Store, hub: RecordingHub) -> None:
    reads = [small(i) for i in range(6)]
    store.add_reads_batch(reads)
    hub.fail(3, status=500)
    hub.reset(2)
    slept: list[float] = []
    f = Forwarder(store, hub.url, "dev-1", timeout_s=2, interval_s=0.05, batch_size=4,
                  backoff=Backoff(base_s=0.01, cap_s=0.05), sleep=slept.append)
    f.start()
    try:
        assert wait_until(lambda: store.outbox_backlog().count == 0, 20)
    finally:
        assert f.stop(5)
    assert len(slept) == 5 and all(0 < s <= 0.05 for s in slept)  # one backoff per failed attempt
    assert_exactly_once(hub, store, reads)


def test_partial_acks_resend_only_the_rest(store: Store, hub: RecordingHub) -> None:
    reads = [small(i) for i in range(7)]
    store.add_reads_batch(reads)
    hub.ack_only(2)
    f = forwarder(store, hub, batch_size=5)
    first = f.run_once()
    assert (first.sent, first.acked, first.error) == (5, 2, None)
    assert store.outbox_backlog().count == 5
    assert [store.get_read(r.id).confirmed_at is not None for r in reads] == [True, True] + [False] * 5
    drain(f)
    assert_exactly_once(hub, store, reads)
    assert max(hub.arrivals.values()) > 1  # the unacknowledged ones really went again


def test_a_slow_hub_past_the_timeout_gets_the_batch_again_and_drops_the_copy(store: Store, hub: RecordingHub) -> None:
    reads = [small(i) for i in range(3)]
    store.add_reads_batch(reads)
    hub.slow(1.5)
    f = forwarder(store, hub, timeout_s=0.3)
    result = f.run_once()
    assert result.error == "the hub did not answer within 0.3 s" and store.outbox_backlog().count == 3
    hub.slow(0)
    drain(f)
    assert_exactly_once(hub, store, reads)
    assert hub.duplicates == 3  # stored the first time, acknowledged (not stored) the second


def test_an_ack_of_nothing_is_a_failure_and_unknown_ids_are_ignored(store: Store, hub: RecordingHub) -> None:
    store.add_read(small(0))
    hub.ack_only(0)
    f = forwarder(store, hub)
    assert f.run_once().error == "the hub acknowledged none of the 1 records sent"
    assert f.backoff.failures == 0  # run_once does not sleep; the thread's loop counts the failure
    hub.ack_only(None)
    assert f.run_once().acked == 1


def test_a_forwarder_killed_mid_batch_resends_after_restart(tmp_path: Path, hub: RecordingHub) -> None:
    folder = tmp_path / "store"
    reads = [small(i) for i in range(8)]
    with Store.open(folder) as s:
        s.add_reads_batch(reads)
    hub.slow(60)  # the hub stores the batch, then the answer never comes before the kill
    script = textwrap.dedent(f"""
        from pathlib import Path
        from appliance.store import Store
        from appliance.hub.forwarder import Forwarder
        s = Store.open(Path({str(folder)!r}))
        Forwarder(s, {hub.url!r}, "dev-1", timeout_s=120, batch_size=5).run_once()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=os.environ.copy())
    try:
        assert wait_until(lambda: len(hub.records) == 5, 60), "the child never pushed its batch"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    hub.slow(0)
    with Store.open(folder) as s:
        assert s.outbox_backlog().count == 8  # nothing was acknowledged before the kill
        drain(forwarder(s, hub))
        assert_exactly_once(hub, s, reads)
    assert hub.duplicates == 5


def test_alerts_are_pushed_before_reads(store: Store, hub: RecordingHub) -> None:
    store.add_reads_batch([small(i) for i in range(3)])
    alert = uuid7()
    store.outbox_add("alert", alert, {"read": "r", "entry": "e"})
    f = forwarder(store, hub, batch_size=1)
    f.run_once()
    assert list(hub.records) == [alert] and hub.records[alert]["seq"] == 1


def test_the_hub_url_must_be_https_or_loopback() -> None:
    assert ingest_url("https://hub.example.gov/") == "https://hub.example.gov/api/v1/ingest"
    assert ingest_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000/api/v1/ingest"
    with pytest.raises(ValueError, match=r"https:// \(http:// only to a loopback host\)"):
        ingest_url("http://hub.example.gov")
    with pytest.raises(ValueError, match="must not carry a user name or password"):
        ingest_url("https://u:p@hub.example.gov")


def test_alpr_run_starts_a_forwarder_only_with_a_hub_url(store: Store, hub: RecordingHub) -> None:
    cfg = Config()
    assert build_forwarder(cfg, store) is None
    f = build_forwarder(Config(hub=type(cfg.hub)(url=hub.url, push_interval_s=2)), store)
    assert f.url == hub.url + "/api/v1/ingest" and f.interval_s == 2


# -- the pull API ----------------------------------------------------------------------------

@pytest.fixture
def app(tmp_path: Path):
    folder = tmp_path / "web"
    with Store.open(folder) as s:
        s.add_reads_batch([small(i) for i in range(5)])
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "test", "password_hasher": users.cheap_hasher()})
    yield app
    app.extensions["alpr"].store.close()


def bearer(app) -> dict:
    return {"Authorization": "Bearer " + tokens.create(app.extensions["alpr"].store, "hub-1")}


def test_tokens_are_stored_hashed_and_can_be_revoked(store: Store) -> None:
    token = tokens.create(store, "hub-1", actor="admin")
    assert tokens.verify(store, token) == "hub-1" and tokens.verify(store, token + "x") is None
    rows = store.database.execute_sql("SELECT token_hash FROM hub_tokens").fetchall()
    assert token not in str(rows) and len(rows[0][0]) == 64
    with pytest.raises(ValueError, match="already a hub token named 'hub-1'"):
        tokens.create(store, "hub-1")
    with pytest.raises(ValueError, match="hub client name is 1 to 64 letters"):
        tokens.create(store, "bad name")
    tokens.revoke(store, "hub-1")
    assert tokens.verify(store, token) is None and tokens.list_tokens(store)[0].revoked_at is not None


def test_pull_pages_by_cursor_and_next_stays_when_nothing_is_new(app) -> None:
    client, auth = app.test_client(), bearer(app)
    r = client.get("/api/v1/reads?limit=2", headers=auth)
    assert r.status_code == 200 and [i["seq"] for i in r.json["items"]] == [1, 2] and r.json["next"] == "2"
    r = client.get("/api/v1/reads?after=2&limit=1000", headers=auth)
    assert [i["seq"] for i in r.json["items"]] == [3, 4, 5] and r.json["next"] == "5"
    r = client.get("/api/v1/reads?after=5", headers=auth)
    assert r.json == {"items": [], "next": "5"}
    app.extensions["alpr"].store.add_read(small(7))
    assert [i["text"] for i in client.get("/api/v1/reads?after=5", headers=auth).json["items"]] == ["HUB0007"]
    assert "session" not in (r.headers.get("Set-Cookie") or "")


def test_pulled_items_have_the_shape_of_pushed_items(app, hub: RecordingHub) -> None:
    store = app.extensions["alpr"].store
    drain(forwarder(store, hub))
    pulled = app.test_client().get("/api/v1/reads", headers=bearer(app)).json["items"]
    for item in pulled:
        pushed = dict(hub.records[item["id"]])
        assert item == pushed


def test_bad_pull_queries_say_what_is_allowed(app) -> None:
    client, auth = app.test_client(), bearer(app)
    r = client.get("/api/v1/reads?limit=1001", headers=auth)
    assert r.status_code == 400 and "limit must be a whole number from 1 to 1000" in r.json["error"]
    r = client.get("/api/v1/reads?after=abc", headers=auth)
    assert r.status_code == 400 and "after must be a cursor" in r.json["error"]


def test_only_a_valid_token_opens_the_api_and_it_opens_nothing_else(app) -> None:
    client = app.test_client()
    r = client.get("/api/v1/reads")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/reads", headers={"Authorization": "Bearer alprhub_" + "x" * 43}).status_code == 401
    auth = bearer(app)
    assert client.get("/api/v1/reads", headers=auth).status_code == 200
    r = client.get("/", headers=auth)  # the UI: a token is no session
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    tokens.revoke(app.extensions["alpr"].store, "hub-1")
    assert client.get("/api/v1/reads", headers=auth).status_code == 401


def test_images_by_kind(app) -> None:
    client, auth = app.test_client(), bearer(app)
    read_id = client.get("/api/v1/reads?limit=1", headers=auth).json["items"][0]["id"]
    for kind in ("", "?kind=crop", "?kind=frame"):
        r = client.get(f"/api/v1/reads/{read_id}/image{kind}", headers=auth)
        assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
    r = client.get(f"/api/v1/reads/{read_id}/image?kind=thumb", headers=auth)
    assert r.status_code == 400 and "kind must be one of crop, frame" in r.json["error"]
    assert client.get(f"/api/v1/reads/{uuid7()}/image", headers=auth).status_code == 404


def test_every_pull_is_recorded_and_refused_when_it_cannot_be(app) -> None:
    client, auth = app.test_client(), bearer(app)
    client.get("/api/v1/reads?limit=3", headers=auth)
    store = app.extensions["alpr"].store
    [rec] = tokens.pulls(store)
    assert (rec["client"], rec["path"], rec["query"], rec["count"]) == ("hub-1", "/api/v1/reads", "limit=3", 3)
    store.database.execute_sql("DROP TABLE api_access")  # the access log cannot be written: fail closed (LG-4)
    r = client.get("/api/v1/reads", headers=auth)
    assert r.status_code == 503 and "refused" in r.json["error"] and "items" not in r.json


def test_the_v5_columns_match_the_models(store: Store) -> None:
    from appliance.store.models import PurgeRecordRow, ReadRow
    for model in (ReadRow, PurgeRecordRow):
        columns = [c.name for c in store.database.get_columns(model._meta.table_name)]
        assert columns == [f.column_name for f in model._meta.sorted_fields] and columns[-1] == "seq"
    assert schema.LATEST >= 5  # later versions add tables, never drop these
    tables = {t for (t,) in store.database.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"outbox", "outbox_seq", "hub_tokens", "api_access"} <= tables


def test_frames_are_pushed_when_configured(store: Store, hub: RecordingHub) -> None:
    read = small(0)
    store.add_read(read)
    drain(forwarder(store, hub, frames=True))
    assert base64.b64decode(hub.records[read.id]["frame"])[:3] == b"\xff\xd8\xff"


def test_the_forwarder_thread_and_the_writer_share_the_store_safely(store: Store, hub: RecordingHub) -> None:
    """WAL + busy timeout: acknowledgements on the forwarder's connection while reads keep arriving."""
    f = Forwarder(store, hub.url, "dev-1", timeout_s=2, interval_s=0.02, batch_size=3)
    f.start()
    reads = [small(i) for i in range(30)]
    try:
        for i in range(0, 30, 3):
            store.add_reads_batch(reads[i:i + 3])
            f.wake()
        assert wait_until(lambda: store.outbox_backlog().count == 0 and len(hub.records) == 30, 20)
    finally:
        assert f.stop(5)
    assert_exactly_once(hub, store, reads)
    assert set(hub.arrivals.values()) == {1}


def test_hub_token_commands(tmp_path: Path, capsys) -> None:
    import argparse

    from appliance.hub.command import add_parser
    parser = argparse.ArgumentParser(prog="alpr")
    add_parser(parser.add_subparsers(dest="command"))
    folder = str(tmp_path / "store")

    def alpr(*args: str) -> int:
        a = parser.parse_args(list(args))
        return a.func(a)

    assert alpr("hub", "token", "create", "county-hub", "--store", folder) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    with Store.open(Path(folder)) as s:
        assert tokens.verify(s, token) == "county-hub"
    with pytest.raises(ValueError, match="already a hub token named 'county-hub'"):
        alpr("hub", "token", "create", "county-hub", "--store", folder)
    assert alpr("hub", "token", "revoke", "county-hub", "--store", folder) == 0
    assert alpr("hub", "token", "list", "--store", folder) == 0
    out = capsys.readouterr().out
    assert "county-hub\tcreated" in out and "\trevoked " in out
