"""`python -m appliance.hotlists.rebuild_bench`: what a list change costs the device with a huge list in the store.

Three phases, each meant for its own process so the peak memory is that phase's own:
- `seed`: a real (SQLCipher) store holding one list of N entries (default 1,000,000), as
  bench.py's plates, plus a small hand-kept list whose edits trigger rebuilds;
- `build`: one MatcherCache build from that store: seconds and peak memory growth;
- `stall`: the pipeline's writer (AlertingWriter, wired as runtime.build_pipeline wires it)
  stores a read every `--every-ms` on its own thread while the small list is edited; the
  longest gap between two stored reads while the matcher is rebuilt is the writer's stall.
A benchmark whose figures go in the README (issue #7), not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from appliance.alerts import AlertingWriter
from appliance.hotlists.bench import random_plates, random_reads
from appliance.hotlists.model import Hotlist, synced_entry
from appliance.hotlists.matching import Matcher
from appliance.hotlists.repository import MatcherCache, lists_version, load_lists, replace_list
from appliance.ids import uuid7
from appliance.store.keys import LocalKeyFile
from appliance.store.store import Store
from appliance.types import Alternative, Read

BIG = Hotlist("bench-big", "Stolen vehicles (bench)", "stolen_vehicle", priority=2, source_system="bench")
SMALL = Hotlist("bench-small", "Kept by hand (bench)", "bolo", priority=1)


def open_bench_store(folder: Path) -> Store:
    """The bench store, its key file beside it (never the device's key)."""
    return Store.open(folder, keys=LocalKeyFile(folder.parent / f"{folder.name}.key"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def seed(folder: Path, entries: int) -> dict:
    """Store the big list (once) and the small one; the figures of the import itself."""
    now = datetime.now(timezone.utc)
    with open_bench_store(folder) as store:
        if lists_version(store) > 0:
            return {"seeded": "already"}
        t0 = time.perf_counter()
        big = [synced_entry(BIG.id, p, entered_by="bench", entered_at=now, state="CA",
                            description="2019 TOYT CAM BLK", reason="stolen vehicle", case_number=f"V{i:09d}")
               for i, p in enumerate(random_plates(entries, random.Random(7)))]
        replace_list(store, BIG, big, "bench", now=now)
        replace_list(store, SMALL, [synced_entry(SMALL.id, "9ZZZ999", entered_by="bench", entered_at=now)],
                     "bench", now=now)
        return {"seeded": entries, "import_s": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(_rss_mb())}


def build(folder: Path, in_memory: bool = False) -> dict:
    """One full build of the matcher from the store: seconds, peak memory growth, match latency.

    `in_memory`: the way it was before issue #7's fix, every entry an Entry (`Matcher(load_lists(store))`).
    """
    with open_bench_store(folder) as store:
        lists_version(store)  # the connection and key derivation are not the build's cost
        gc.collect()
        before = _rss_mb()
        t0 = time.perf_counter()
        matcher = Matcher(load_lists(store)) if in_memory else MatcherCache(store).current()
        seconds = time.perf_counter() - t0
        grown = _rss_mb() - before
        return {"entries": matcher.size, "build_s": round(seconds, 1), "peak_rss_growth_mb": round(grown),
                "peak_rss_mb": round(_rss_mb()), **_match_latency(store, matcher)}


def _match_latency(store, matcher) -> dict:
    """Mean and p99 of `match` over bench.py's reads (half listed plates, some look-alike swaps)."""
    sample = "SELECT plate FROM hotlist_entries ORDER BY random() LIMIT 1000"
    listed = [p for (p,) in store.database.execute_sql(sample)]
    reads = random_reads(listed, random.Random(3), 2000)
    lat, hits = [], 0
    for r in reads:
        t = time.perf_counter_ns()
        hits += len(matcher.match(r))
        lat.append((time.perf_counter_ns() - t) / 1000)
    lat.sort()
    return {"match_mean_us": round(statistics.fmean(lat), 1), "match_p99_us": round(lat[int(0.99 * len(lat)) - 1], 1),
            "reads": len(reads), "hits": hits}


def _read(rng: random.Random) -> Read:
    text = "".join(rng.choices("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", k=7))
    now = datetime.now(timezone.utc)
    return Read(uuid7(), "bench", "cam0", text, 0.9, (0.9,) * 7, (Alternative(text[::-1], 0.01),),
                now - timedelta(seconds=1), now, True, (0, 0, 24, 8), "left", 5,
                np.zeros((8, 24, 3), np.uint8), np.zeros((24, 32, 3), np.uint8))


def stall(folder: Path, every_ms: float = 20.0, settle_s: float = 1.0) -> dict:
    """The writer's longest gap between two stored reads while a list edit makes the matcher rebuild."""
    rng = random.Random(1)
    with open_bench_store(folder) as store:
        cache = MatcherCache(store)
        cache.current()  # the start-up build, not part of the stall
        writer = AlertingWriter(store, cache)  # as runtime.build_pipeline wires it: builds in the background
        stored: list[float] = []
        stop = threading.Event()

        def write_reads() -> None:
            while not stop.wait(every_ms / 1000):
                writer(_read(rng))
                stored.append(time.perf_counter())
            store.disconnect()

        thread = threading.Thread(target=write_reads, name="bench-writer")
        thread.start()
        time.sleep(settle_s)
        t0 = time.perf_counter()
        replace_list(store, SMALL, [synced_entry(SMALL.id, f"9ZZZ{rng.randint(0, 999):03d}", entered_by="bench",
                                                 entered_at=datetime.now(timezone.utc))], "bench")
        changed = lists_version(store)
        while cache.version < changed:  # the rebuild, wherever it runs
            time.sleep(0.05)
        rebuilt = time.perf_counter() - t0
        time.sleep(settle_s)
        stop.set()
        thread.join()
        gaps = [(b, b - a) for a, b in zip(stored, stored[1:])]
        quiet = max(g for b, g in gaps if b < t0)
        during = max(g for b, g in gaps if b >= t0)
        return {"reads_stored": len(stored), "rebuild_s": round(rebuilt, 1), "read_every_ms": every_ms,
                "writer_longest_gap_ms": round(during * 1000, 1),
                "longest_gap_before_change_ms": round(quiet * 1000, 1),
                "peak_rss_mb": round(_rss_mb())}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("phase", choices=("seed", "build", "stall"))
    p.add_argument("--store", type=Path, required=True, help="the bench store's folder (made by seed)")
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--every-ms", type=float, default=20.0)
    p.add_argument("--in-memory", action="store_true", help="build: every entry an Entry, as before issue #7's fix")
    a = p.parse_args(argv)
    figures = {"seed": lambda: seed(a.store, a.entries), "build": lambda: build(a.store, a.in_memory),
               "stall": lambda: stall(a.store, a.every_ms)}[a.phase]()
    print(json.dumps({"phase": a.phase, **figures}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
