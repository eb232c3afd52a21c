"""`alpr bench hub --reads N`: how fast a backlog drains to a hub, how fast the hub can pull, and memory.

A throw-away encrypted store gets a backlog of N reads (metadata only, the way a device
cut off from its hub for days piles them up, `Store.add_reads_batch(images=False)`) and a
smaller sample with a crop each (sealed like the pipeline's). A recording hub runs in its
own process on loopback (plain http: loopback is allowed, and TLS would measure OpenSSL,
not us), so its memory and CPU are not counted as the forwarder's. Figures:

- drain rate: reads/s from a full outbox to empty, acknowledged (goal >= 1,000 without images);
- the same with crops (base64 JPEG in each item);
- pull API: items/s through `GET /api/v1/reads?limit=1000` with a bearer token (Flask in process);
- peak memory: the process's resident set (ru_maxrss) before and after the drain.

A benchmark whose figures go in the README, not a test.
"""

from __future__ import annotations

import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

import numpy as np

from appliance.hub.forwarder import MAX_BATCH, Forwarder
from appliance.store.bench import _image, _plate, _read
from appliance.store.keys import LocalKeyFile
from appliance.store.store import Store

FILL_BATCH = 1_000
_HUB = """
import sys, time
from appliance.hub.testhub import RecordingHub
hub = RecordingHub().start()
print(hub.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
print(len(hub.records), hub.duplicates, flush=True)
"""


class _NoLimit:
    """The bench measures the pull API, not its rate limiter."""

    def take(self, client: str) -> float:
        return 0.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_bench(reads: int = 100_000, as_json: bool = False, crops: int | None = None, batch: int = MAX_BATCH,
              folder: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Drain `reads` metadata reads and `crops` reads with crops to a local hub; pull them; print figures."""
    if not isinstance(reads, int) or reads < FILL_BATCH:
        print(f"alpr bench hub: --reads must be at least {FILL_BATCH}; got {reads!r}", file=sys.stderr)
        return 2
    crops = crops if crops is not None else min(5_000, reads // 10)
    say = (lambda *a: None) if as_json else (lambda line: print(line, file=out, flush=True))
    figures: dict = {"reads": reads, "crop_reads": crops, "batch": batch}
    hub = subprocess.Popen([sys.executable, "-c", _HUB], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{int(hub.stdout.readline())}"  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory(prefix="alpr-bench-hub-", dir=folder) as tmp:
            key = Path(tmp) / "store.key"  # a throw-away store's key, made quietly
            os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            key.write_bytes(secrets.token_bytes(32))
            store = Store.open(Path(tmp) / "store", keys=LocalKeyFile(key), frame_max_width=640)
            try:
                figures.update(_drain_all(store, url, reads, crops, batch, say))
            finally:
                store.close()
            figures["pull"] = _pull(Path(tmp) / "store", key, say)
        hub.stdin.close()  # type: ignore[union-attr]
        held, dups = map(int, hub.stdout.readline().split())  # type: ignore[union-attr]
        figures["hub_records"], figures["hub_duplicates"] = held, dups
        say(f"the hub holds {held} records ({dups} sent twice)")
    finally:
        hub.kill()
        hub.wait()
    if as_json:
        print(json.dumps(figures), file=out)
    return 0


def _fill(store: Store, count: int, offset: int, crop: np.ndarray | None) -> float:
    rng = random.Random(offset)
    t = time.perf_counter()
    for start in range(0, count, FILL_BATCH):
        n = range(offset + start, offset + min(count, start + FILL_BATCH))
        batch = [_read(i, offset + count, _plate(rng), rng, *(() if crop is None else (crop,))) for i in n]
        store.add_reads_batch(batch, images=crop is not None)
    return time.perf_counter() - t


def _drain(store: Store, url: str, batch: int) -> tuple[float, int]:
    f = Forwarder(store, url, "bench", batch_size=batch, timeout_s=60.0, sleep=lambda s: None)
    t, sent = time.perf_counter(), 0
    while True:
        result = f.run_once()
        if result.error:
            raise RuntimeError(f"the drain failed: {result.error}")
        if result.sent == 0:
            return time.perf_counter() - t, sent
        sent += result.sent


def _drain_all(store: Store, url: str, reads: int, crops: int, batch: int, say) -> dict:
    fill_s = _fill(store, reads, 0, None)
    say(f"backlog: {reads} reads (metadata only) stored in {fill_s:.1f} s")
    rss_before = _rss_mb()
    seconds, sent = _drain(store, url, batch)
    rss_after = _rss_mb()
    rate = sent / seconds
    say(f"drain without images: {sent} reads in {seconds:.1f} s = {rate:,.0f} reads/s, batches of {batch} "
        f"(goal >= 1,000)")
    say(f"peak memory (ru_maxrss): {rss_before:.0f} MB before the drain, {rss_after:.0f} MB after")
    out = {"drain_reads_per_s": round(rate), "drain_s": round(seconds, 2), "rss_before_drain_mb": round(rss_before),
           "rss_peak_after_drain_mb": round(rss_after)}
    if crops:
        crop = _image(48, 160, np.random.default_rng(7))
        _fill(store, crops, reads, crop)
        seconds, sent = _drain(store, url, batch)
        out["drain_with_crops_reads_per_s"] = round(sent / seconds)
        out["rss_peak_after_crop_drain_mb"] = round(_rss_mb())
        say(f"drain with crops (160x48 JPEG, base64): {sent} reads in {seconds:.1f} s = {sent / seconds:,.0f} reads/s; "
            f"peak memory {_rss_mb():.0f} MB")
    return out


def _pull(folder: Path, key: Path, say) -> dict:
    """Page through every read with the pull API and a bearer token; items per second."""
    from appliance.hub import tokens
    from appliance.users import cheap_hasher
    from webui import create_app
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": secrets.token_hex(16), "store_keys": LocalKeyFile(key),
                              "password_hasher": cheap_hasher(), "pull_limiter": _NoLimit()})
    token = tokens.create(app.extensions["alpr"].store, "bench-hub")
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    t, items, pages, after = time.perf_counter(), 0, 0, None
    while True:
        r = client.get("/api/v1/reads?limit=1000" + (f"&after={after}" if after else ""), headers=auth)
        if r.status_code != 200:
            raise RuntimeError(f"the pull API answered HTTP {r.status_code}: {r.get_data(as_text=True)[:200]}")
        page = r.get_json()
        if not page["items"]:
            break
        items, pages, after = items + len(page["items"]), pages + 1, page["next"]
    seconds = time.perf_counter() - t
    say(f"pull API: {items} reads in {pages} pages of up to 1000 in {seconds:.1f} s = {items / seconds:,.0f} items/s")
    return {"items": items, "pages": pages, "items_per_s": round(items / seconds)}
