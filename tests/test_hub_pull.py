"""The hub pull API beyond reads (issue #6): alerts and access records by cursor, rate limits, the OpenAPI file.

POLICY DS-1 (hub clients by token over the pull API), LG-1/LG-3/LG-4 (every pull is an
access record in the hash chain, refused when it cannot be written; the chain goes to the
hub), AC-2 (a token opens the pull API only). Real SQLCipher store, the real Flask app,
the recording hub on loopback for the pushed shapes.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from appliance import users
from appliance.alerts import record_read
from appliance.hotlists import Hotlist, Matcher, synced_entry
from appliance.hotlists.repository import load_lists, replace_list
from appliance.hub import tokens
from appliance.hub.forwarder import Forwarder
from appliance.hub.testhub import RecordingHub
from test_store import T0, make_read, open_store, pattern
from webui import create_app
from webui.rate_limit import RateLimiter

REPO = Path(__file__).resolve().parents[1]
STOLEN = Hotlist("list-stolen", "Stolen vehicles", "stolen_vehicle", priority=1, source_system="CLETS")
PLATES = ("7ABC123", "8XYZ789", "5KLM456")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _store_with_alerts(folder: Path) -> None:
    with open_store(folder) as s:
        replace_list(s, STOLEN, [synced_entry(STOLEN.id, p, entered_by="CLETS", entered_at=T0, state="CA",
                                              reason="stolen", case_number=f"C-{i}") for i, p in enumerate(PLATES)],
                     "clerk", now=T0)
        matcher = Matcher(load_lists(s), clock=lambda: T0)
        for i, p in enumerate(PLATES):
            read = make_read(p, at=T0 + timedelta(seconds=i), crop=pattern(32, 96, i), frame=pattern(120, 160, i))
            record_read(s, read, matcher.match(read), T0 + timedelta(seconds=i))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(tmp_path: Path, clock: FakeClock):
    folder = tmp_path / "web"
    _store_with_alerts(folder)
    from test_store import keys_for
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "test", "password_hasher": users.cheap_hasher(),
                              "store_keys": keys_for(folder), "pull_limiter": RateLimiter(60, 5, clock=clock)})
    yield app
    app.extensions["alpr"].store.close()


def bearer(app, name: str = "hub-1") -> dict:
    return {"Authorization": "Bearer " + tokens.create(app.extensions["alpr"].store, name)}


def drain(store, hub: RecordingHub) -> None:
    f = Forwarder(store, hub.url, "dev-1", timeout_s=2.0, sleep=lambda s: None)
    for _ in range(20):
        if store.outbox_backlog().count == 0:
            return
        f.run_once()
    raise AssertionError("the outbox did not drain")


# -- alerts ----------------------------------------------------------------------------------

def test_alerts_page_by_cursor_and_next_stays_when_nothing_is_new(app) -> None:
    """DESIGN.md Hub API: ?after=<cursor>&limit=N -> {"items", "next"}; next unchanged when nothing is new."""
    client, auth = app.test_client(), bearer(app)
    r = client.get("/api/v1/alerts?limit=2", headers=auth)
    assert r.status_code == 200 and [i["seq"] for i in r.json["items"]] == [1, 2] and r.json["next"] == "2"
    assert [i["read_text"] for i in r.json["items"]] == list(PLATES[:2])
    r = client.get("/api/v1/alerts?after=2", headers=auth)
    assert [i["seq"] for i in r.json["items"]] == [3] and r.json["next"] == "3"
    assert client.get("/api/v1/alerts?after=3", headers=auth).json == {"items": [], "next": "3"}
    r = client.get("/api/v1/alerts?after=x", headers=auth)
    assert r.status_code == 400 and "after must be a cursor" in r.json["error"]
    r = client.get("/api/v1/alerts?limit=0", headers=auth)
    assert r.status_code == 400 and "limit must be a whole number from 1 to 1000" in r.json["error"]


def test_pulled_alerts_and_access_records_have_the_pushed_shape(app) -> None:
    """Items pulled are the items pushed (same kind, id, seq and fields), for alerts and access records (LG-3)."""
    store = app.extensions["alpr"].store
    client, auth = app.test_client(), bearer(app)
    client.get("/api/v1/reads?limit=2", headers=auth)  # an access record to push
    with RecordingHub() as hub:
        drain(store, hub)
        alerts = client.get("/api/v1/alerts", headers=auth).json["items"]
        access = client.get("/api/v1/access", headers=auth).json["items"]
    assert len(alerts) == 3 and all(a == hub.records[a["id"]] for a in alerts)
    pushed = [a for a in access if a["id"] in hub.records]
    assert pushed and all(a == hub.records[a["id"]] for a in pushed)
    assert hub.gaps("access") == [] and hub.gaps("alert") == []


# -- access records --------------------------------------------------------------------------

def test_every_pull_is_in_the_access_chain_and_the_next_access_pull_shows_it(app) -> None:
    """LG-1/LG-3: each pull (reads, alerts, access, images) is a chained record, visible in the next /access pull."""
    client, auth = app.test_client(), bearer(app)
    read_id = client.get("/api/v1/reads?limit=1", headers=auth).json["items"][0]["id"]
    client.get("/api/v1/alerts?limit=2", headers=auth)
    client.get(f"/api/v1/reads/{read_id}/image", headers=auth)
    r = client.get("/api/v1/access?limit=1000", headers=auth)
    items = r.json["items"]
    pulls = [i for i in items if i["action"] == "hub pull"]
    assert [p["query"]["path"] for p in pulls] == ["/api/v1/reads", "/api/v1/alerts", f"/api/v1/reads/{read_id}/image"]
    assert all(p["username"] == "hub:hub-1" and p["purpose_category"] == "hub pull" for p in pulls)
    assert pulls[0]["result_ids"] == [read_id] and pulls[1]["result_count"] == 2
    seqs = [i["seq"] for i in items]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and r.json["next"] == str(seqs[-1])
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(items, items[1:]))  # the hub can check the chain
    r = client.get(f"/api/v1/access?after={seqs[-1]}", headers=auth)
    (own,) = r.json["items"]  # the previous /access pull itself
    assert own["query"]["path"] == "/api/v1/access" and own["result_count"] == len(items)


def test_an_access_pull_that_cannot_be_recorded_is_refused(app) -> None:
    """LG-4: fail closed."""
    store = app.extensions["alpr"].store
    client, auth = app.test_client(), bearer(app)
    store.database.execute_sql("CREATE TRIGGER no_more BEFORE INSERT ON access_records "
                               "BEGIN SELECT RAISE(ABORT, 'full'); END")
    for path in ("/api/v1/access", "/api/v1/alerts"):
        r = client.get(path, headers=auth)
        assert r.status_code == 503 and "items" not in r.json and "refused" in r.json["error"]


# -- rate limits -----------------------------------------------------------------------------

def test_a_client_over_its_rate_gets_429_with_retry_after(app, clock: FakeClock) -> None:
    """Hub clients are rate-limited per token (issue #6): burst 5, then 1 a second; others are unaffected."""
    client, auth, other = app.test_client(), bearer(app), bearer(app, "hub-2")
    store = app.extensions["alpr"].store
    for _ in range(5):
        assert client.get("/api/v1/alerts", headers=auth).status_code == 200
    before = store.database.execute_sql("SELECT count(*) FROM access_records").fetchone()[0]
    r = client.get("/api/v1/alerts", headers=auth)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1" and "hub-1" in r.json["error"]
    assert "items" not in r.json
    assert store.database.execute_sql("SELECT count(*) FROM access_records").fetchone()[0] == before  # nothing read
    assert client.get("/api/v1/access", headers=other).status_code == 200  # its own bucket
    clock.t += 1.0
    assert client.get("/api/v1/alerts", headers=auth).status_code == 200
    assert client.get("/api/v1/alerts", headers=auth).status_code == 429


def test_rate_limiter_refills_to_its_burst_and_says_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 2, clock=clock)  # one every 2 s
    assert [limiter.take("a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(2.0) and limiter.retry_after(2.0) == "2"
    clock.t += 600
    assert [limiter.take("a") for _ in range(3)][:2] == [0.0, 0.0]  # refilled to the burst, not beyond
    assert limiter.retry_after(0.01) == "1"
    with pytest.raises(ValueError, match="pull rate must be above 0"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="burst must be a whole number"):
        RateLimiter(60, 0)


# -- the OpenAPI file ------------------------------------------------------------------------

def test_the_openapi_file_parses_and_lists_every_api_route(app) -> None:
    """docs/hub-openapi.yaml is OpenAPI 3.1 and documents every /api/v1 route the appliance serves."""
    spec = yaml.safe_load((REPO / "docs" / "hub-openapi.yaml").read_text())
    assert spec["openapi"].startswith("3.1") and spec["info"]["version"]
    documented = set(spec["paths"])
    served = {r.rule.replace("<", "{").replace(">", "}") for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1/")}
    assert served and not served - documented, f"undocumented routes: {served - documented}"
    for hub_side in ("/api/v1/ingest", "/api/v1/hotlists", "/api/v1/device-secret"):
        assert hub_side in documented
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("responses"), f"{method.upper()} {path} lists no responses"
