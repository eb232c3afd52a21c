"""`alpr demo`: the device loop and the web UI on a replayed drive-by, for a laptop.

Follows the demo contract of DESIGN.md: a drive-by of a dozen cars with known plates is
generated into DIR/driveby/ and replayed in a loop by the replay camera (chosen by
configuration, as on a device); the store lives in DIR/store/; the web UI answers on
http://127.0.0.1:PORT; once it does, DIR/demo.json is written atomically with the URL,
the demo administrator's credentials (password and `totp_secret`, its second factor) and
the plates and `hub_token` (a bearer token for the pull API, /api/v1). The administrator
has a current training record, so the demo shows data. Records are pushed to `--hub URL`,
or without it to a local recording hub (appliance/hub/testhub.py) on a free loopback port,
which also serves a demo hotlist holding two of the drive-by's plates. Hotlists are fetched
from the hub at start and every 60 s (appliance/hub/hotlist_sync.py); heartbeats go every minute.
Runs until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import threading
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import pyotp
from werkzeug.serving import make_server

from appliance.atomic_file import replace_file
from appliance import totp, training, users
from appliance.config import Config
from appliance.hub import tokens
from appliance.hub.testhub import RecordingHub
from appliance.hub.link import build_hub_workers
from appliance.settings import effective_settings
from appliance.runtime import build_forwarder, build_pipeline, open_store, wait_for_signal
from appliance.store.keys import LocalKeyFile
from appliance.synth.driveby import standard_driveby
from webui import create_app

log = logging.getLogger(__name__)
DEMO_USER = "demo"
DEMO_FPS = 10
DEMO_HUB_CLIENT = "demo-hub"
DEMO_HOTLIST_REFRESH_S = 60  # DESIGN.md demo contract: lists fetched at start and every 60 s


def demo_hotlists(plates: list[str]) -> dict:
    """What the demo's local hub serves at /api/v1/hotlists: two of the drive-by's plates, so alerts show."""
    entries = [{"plate": p, "reason": "demo: reported stolen", "case": f"DEMO-{i + 1}"}
               for i, p in enumerate(plates[1:6:4])]
    return {"lists": [{"id": "demo-stolen", "name": "Demo stolen vehicles", "source": "stolen_vehicle",
                       "priority": 1, "entries": entries}]}


def write_driveby(folder: Path, seed: int = 1) -> list[str]:
    """Render the drive-by's frames as JPEG files (once); return its plates."""
    drive = standard_driveby(seed=seed, width=1280, height=720, count=12)
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.jpg"))) != drive.length:
        for i, frame in enumerate(drive.frames()):
            cv2.imwrite(str(folder / f"frame{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return drive.plates


def demo_config(data: Path, port: int) -> Config:
    """The configuration a demo device runs with: replay camera, loopback plain HTTP."""
    base = Config()
    return replace(base,
                   device=replace(base.device, id="demo-1", site_name="Demo intersection"),
                   camera=replace(base.camera, backend="replay", source=str(data / "driveby"), fps=DEMO_FPS,
                                  loop=True, camera_id="demo-cam"),
                   store=replace(base.store, path=data / "store"),
                   web=replace(base.web, host="127.0.0.1", port=port, tls=False))


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to a temp file in the same folder, fsync, then rename over `path`."""
    replace_file(path, json.dumps(payload, indent=2), mode=0o600)  # it holds the demo password


def wait_until_answering(url: str, timeout: float = 30.0) -> None:
    """Poll the sign-in page until the web UI answers."""
    stop = threading.Event()
    for _ in range(int(timeout / 0.2)):
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        stop.wait(0.2)
    raise RuntimeError(f"the web UI did not answer at {url} within {timeout:.0f} s")


def prepare_demo_user(store, now: datetime | None = None) -> tuple[str, str]:
    """The demo administrator with a fresh random password and TOTP key, unlocked and trained."""
    now = now or datetime.now(timezone.utc)
    password, secret = secrets.token_urlsafe(16), pyotp.random_base32()
    if users.find_user(store, DEMO_USER) is None:
        users.create_user(store, DEMO_USER, password, actor="demo", now=now)
    else:  # a re-used folder: fresh credentials we can print, and whatever locked it forgiven
        users.set_password(store, DEMO_USER, password, actor="demo", now=now)
        users.unlock(store, DEMO_USER, actor="demo", now=now)
        users.enable(store, DEMO_USER, actor="demo", now=now)
    user = users.find_user(store, DEMO_USER)
    totp.enrol_with_secret(store, user.id, secret, actor="demo", now=now)
    if training.current_record(store, user.id, now.date() + timedelta(days=30)) is None:
        training.add_record(store, DEMO_USER, "ALPR demo walkthrough", "demo", now.date(),
                            now.date() + timedelta(days=365), actor="demo", now=now)
    return password, secret


def demo_hub_token(store) -> str:
    """A fresh pull-API token for the demo; those of earlier runs in this folder are revoked."""
    for t in tokens.list_tokens(store):
        if t.name.startswith(DEMO_HUB_CLIENT) and t.revoked_at is None:
            tokens.revoke(store, t.name)
    return tokens.create(store, f"{DEMO_HUB_CLIENT}-{secrets.token_hex(4)}", actor="demo")


def run_demo(data: Path | None, port: int, hub: str | None) -> int:
    data = Path(data) if data else Path(tempfile.mkdtemp(prefix="alpr-demo-"))
    data.mkdir(parents=True, exist_ok=True)
    plates = write_driveby(data / "driveby")
    cfg = demo_config(data, port)
    local_hub = None if hub else RecordingHub().start()  # no --hub: a local recording hub shows the push
    cfg = replace(cfg, hub=replace(cfg.hub, url=hub or local_hub.url, push_interval_s=2,
                                   hotlist_refresh_s=DEMO_HOTLIST_REFRESH_S))
    if local_hub is not None:  # with --hub, the lists come from that hub only (DESIGN.md demo contract)
        local_hub.serve_hotlists(demo_hotlists(plates))
    keys = LocalKeyFile(data / "keys" / "store.key")  # the demo's own key, outside DIR/store
    store = open_store(cfg, keys)
    cfg = effective_settings(cfg, store)  # what an administrator changed on the settings page
    password, secret = prepare_demo_user(store)
    pipeline = build_pipeline(cfg, store)
    forwarder = build_forwarder(cfg, store)
    hub_workers = build_hub_workers(store, forwarder, hotlist_refresh_s=cfg.hub.hotlist_refresh_s,
                                    heartbeat_s=cfg.hub.heartbeat_interval_s, pipeline=pipeline)
    hub_token = demo_hub_token(store)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per page request
    app = create_app(cfg.store.path, {"health_provider": lambda: pipeline.health.snapshot(pipeline.frames),
                                          "store_keys": keys, "appliance_config": cfg})
    server = make_server(cfg.web.host, port, app, threaded=True)
    url = f"http://{cfg.web.host}:{server.server_port}"
    threading.Thread(target=server.serve_forever, name="webui", daemon=True).start()
    pipeline.start()
    forwarder.start()
    hub_workers.start()  # hotlists fetched now and every 60 s, heartbeats every minute
    stop = threading.Event()
    try:
        wait_until_answering(url)
        write_json_atomic(data / "demo.json", {"url": url, "username": DEMO_USER, "password": password,
                                                   "totp_secret": secret, "plates": plates,
                                                   "hub_token": hub_token})
        print(f"alpr demo: web UI at {url}  user {DEMO_USER}  password {password}\n"
              f"second factor: add key {secret} to an authenticator app (or: python -c "
              f"\"import pyotp; print(pyotp.TOTP('{secret}').now())\")\n"
              f"data in {data} (demo.json holds these details); Ctrl-C stops", flush=True)
        wait_for_signal(stop)
    finally:
        server.shutdown()
        clean = pipeline.stop(timeout=5.0)
        clean = hub_workers.stop() and clean
        clean = forwarder.stop() and clean
        if local_hub is not None:
            local_hub.stop()
        app.extensions["alpr"].store.close()
        store.close()
    return 0 if clean else 1
