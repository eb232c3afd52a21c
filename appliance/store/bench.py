"""`alpr bench store --reads N`: insert rate, search latency and purge time of a real encrypted store.

Builds a throw-away store (SQLCipher, WAL, synchronous=full, secure_delete, every index
of schema v3) in a temporary folder and fills it the way a device does: 30,000 reads a
day (a busy intersection), oldest first, four cameras, California-style plates.
Metadata goes in through `Store.add_reads_batch(images=False)` in 1,000-read
transactions; a smaller sample goes through `Store.add_read` one read at a time with a
crop and a 640-pixel frame, each image JPEG-encoded, sealed and fsynced, as the pipeline
does. Searches ask for one page (100 reads), as the web UI does. The purge deletes the
oldest day (30,000 reads, the image sample among them) after the hub "confirmed" it.
A benchmark whose figures go in the README, not a test.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TextIO

import numpy as np

from appliance.ids import uuid7
from appliance.store.keys import LocalKeyFile
from appliance.store.retention import RetentionPolicy
from appliance.store.store import Store
from appliance.types import Alternative, Read

PER_DAY = 30_000
BATCH = 1_000
CAMERAS = ("cam0", "cam1", "cam2", "cam3")
PAGE = 100
END = datetime(2026, 12, 1, tzinfo=timezone.utc)  # the newest read; purge runs "now" = END
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_TINY = np.zeros((1, 1, 3), np.uint8)  # metadata-only reads carry no pixels


def _plate(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}{''.join(rng.choices(_LETTERS, k=3))}{rng.randint(0, 999):03d}"


def _read(i: int, total: int, text: str, rng: random.Random, crop: np.ndarray = _TINY,
          frame: np.ndarray = _TINY) -> Read:
    """Read number `i` of `total`, spaced so that PER_DAY of them fill a day ending at END."""
    at = END - timedelta(seconds=(total - i) * 86400 / PER_DAY)
    conf = tuple(round(rng.uniform(0.7, 1.0), 3) for _ in text)
    return Read(id=uuid7(int(at.timestamp() * 1000)), device_id="bench", camera_id=CAMERAS[i % len(CAMERAS)],
                text=text, confidence=min(conf), char_confidences=conf, alternatives=(Alternative(text[::-1], 0.01),),
                first_seen=at - timedelta(seconds=2), last_seen=at, clock_synced=True, box=(400, 300, 120, 40),
                direction="left", frames_seen=8, crop=crop, frame=frame)


def _timed(fn: Callable[[], object], repeat: int) -> dict:
    ms = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(ms), 3), "max_ms": round(max(ms), 3)}


def _image(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth scene with sensor noise: compresses like a camera frame, not like a flat test card."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (w + h)], -1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def run_bench(reads: int = 1_000_000, as_json: bool = False, folder: Path | None = None,
              image_reads: int | None = None, out: TextIO = sys.stdout) -> int:
    """Run the store benchmark on `reads` metadata reads (plus an image sample); print figures."""
    if not isinstance(reads, int) or reads < 1_000:
        print(f"alpr bench store: --reads must be at least 1000 (one insert transaction); got {reads!r}", file=sys.stderr)
        return 2
    k = image_reads if image_reads is not None else min(500, max(20, reads // 2000))
    say = (lambda *a: None) if as_json else (lambda line: print(line, file=out, flush=True))
    rng, nrng = random.Random(7), np.random.default_rng(7)
    figures: dict = {"reads": reads, "image_reads": k}
    with tempfile.TemporaryDirectory(prefix="alpr-bench-store-", dir=folder) as tmp:
        key = Path(tmp) / "store.key"  # made here, quietly: a throw-away store's key is no news
        os.close(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        key.write_bytes(secrets.token_bytes(32))
        store = Store.open(Path(tmp) / "store", keys=LocalKeyFile(key), frame_max_width=640)
        try:
            figures.update(_fill(store, reads, k, rng, nrng, say))
            db = Path(tmp) / "store" / "alpr.db"
            size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("alpr.db-*"))
            figures["database_bytes_per_read"] = round(size / store.count())
            say(f"database: {size / 1e6:.0f} MB for {store.count()} reads "
                f"({figures['database_bytes_per_read']} bytes a read, indexes included)")
            figures["search"] = _searches(store, figures.pop("_plates"), say)
            figures["purge"] = _purge(store, figures.pop("_day0"), say)
        finally:
            store.close()
    if as_json:
        print(json.dumps(figures), file=out)
    return 0


def _fill(store: Store, reads: int, k: int, rng: random.Random, nrng: np.random.Generator, say) -> dict:
    plates: list[str] = []
    day0: list[str] = []
    block = max(BATCH, reads // 10 // BATCH * BATCH)
    spent, blocks, t_block, n_block = 0.0, [], 0.0, 0
    for start in range(0, reads, BATCH):
        batch = [_read(i, reads, _plate(rng), rng) for i in range(start, min(reads, start + BATCH))]
        if len(plates) < 200:
            plates += [r.text for r in batch[:: max(1, reads // 200)]][:200 - len(plates)]
        day0 += [r.id for r in batch if start < PER_DAY][:max(0, PER_DAY - k - len(day0))]
        t = time.perf_counter()
        store.add_reads_batch(batch, images=False)
        dt = time.perf_counter() - t
        spent, t_block, n_block = spent + dt, t_block + dt, n_block + len(batch)
        if n_block >= block or start + BATCH >= reads:
            blocks.append(round(n_block / t_block))
            say(f"  inserted {start + len(batch):>9} reads: {n_block / t_block:,.0f} reads/s over the last {n_block}")
            t_block, n_block = 0.0, 0
    meta = reads / spent
    say(f"insert, metadata only, {BATCH}-read transactions: {meta:,.0f} reads/s (goal >= 2,000)")
    crop, frame = _image(48, 160, nrng), _image(360, 640, nrng)
    sample = [_read(i, reads, _plate(rng), rng, crop, frame) for i in range(k)]  # in the oldest day
    t = time.perf_counter()
    for r in sample:
        store.add_read(r)
    with_images = k / (time.perf_counter() - t)
    per_read = sum(p.stat().st_size for p in (store.folder / "images").rglob("*.enc")) / k
    say(f"insert with images (crop + 640 px frame, one read per transaction, fsync each): {with_images:,.1f} "
        f"reads/s over {k} reads, {per_read / 1024:.0f} KiB of images a read")
    return {"insert_metadata_reads_per_s": round(meta), "insert_blocks_reads_per_s": blocks,
            "insert_with_images_reads_per_s": round(with_images, 1), "image_bytes_per_read": round(per_read),
            "_plates": plates, "_day0": day0 + [r.id for r in sample]}


def _searches(store: Store, plates: list[str], say) -> dict:
    p = plates
    it = iter(range(10**9))
    mid = END - timedelta(days=min(10.0, store.count() / PER_DAY / 2))
    cases = {
        "exact": lambda: store.search(plate=p[next(it) % len(p)], limit=PAGE),
        "prefix 7AB*": lambda: store.search(plate=p[0][:3] + "*", limit=PAGE),
        "suffix *123": lambda: store.search(plate="*" + p[1][-3:], limit=PAGE),
        "inner ? 7A?C12?": lambda: store.search(plate=p[2][:2] + "?" + p[2][3:6] + "?", limit=PAGE),
        "leading ? ?ABC123": lambda: store.search(plate="?" + p[3][1:], limit=PAGE),
        "time range 1 h": lambda: store.search(since=mid, until=mid + timedelta(hours=1), limit=PAGE),
        "camera": lambda: store.search(camera="cam2", limit=PAGE),
        "camera + 1 day": lambda: store.search(camera="cam1", since=mid - timedelta(days=1), until=mid, limit=PAGE),
        "plate + camera": lambda: store.search(plate=p[4], camera=CAMERAS[0], limit=PAGE),
    }
    found = {name: len(fn()) for name, fn in cases.items()}  # also warms the page cache once
    result = {}
    for name, fn in cases.items():
        result[name] = {**_timed(fn, 20 if name == "exact" else 5), "found": found[name]}
        say(f"search {name:<18} {result[name]['median_ms']:>9.2f} ms median, {result[name]['max_ms']:>9.2f} ms max "
            f"({found[name]} reads)")
    return result


def _purge(store: Store, day0: list[str], say) -> dict:
    t = time.perf_counter()
    confirmed = store.mark_confirmed(day0, at=END - timedelta(days=31))
    confirm_s = time.perf_counter() - t
    t = time.perf_counter()
    report = store.purge(END, RetentionPolicy())
    purge_s = time.perf_counter() - t
    say(f"mark {confirmed} reads confirmed: {confirm_s:.2f} s; purge of that day: {purge_s:.2f} s for "
        f"{report.reads_deleted} reads and {report.images_deleted} image files (goal <= 5 s for 30,000 reads)")
    return {"confirm_s": round(confirm_s, 3), "purge_s": round(purge_s, 3), "reads_deleted": report.reads_deleted,
            "images_deleted": report.images_deleted}
