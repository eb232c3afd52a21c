"""`alpr bench hotlist`: match latency at 10k, 100k and 1M entries, and a 1M-line CSV import.

Plates are random California-style (`7ABC123`) and other 5-8 character plates. Reads
are half on the list (exact, or with one look-alike character swapped) and half not,
each with per-character confidences and three alternatives, so every match also runs
the look-alike neighbour lookups (budget 1) and a handful of partial patterns. The
import runs first, so the process's peak memory growth is the import's. A benchmark
whose figures go in the README, not a test.
"""

from __future__ import annotations

import gc
import json
import random
import resource
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from appliance.hotlists.checker import check
from appliance.hotlists.imports import parse_csv, replace_list
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import Hotlist, synced_entry
from appliance.recognition.confusables import partners
from appliance.types import Alternative, TextReading

SIZES = (10_000, 100_000, 1_000_000)
IMPORT_LINES = 1_000_000
READS = 2_000
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_plates(n: int, rng: random.Random) -> list[str]:
    """`n` distinct plates: 80 % California 1ABC234, the rest 5-8 random characters."""
    out: set[str] = set()
    while len(out) < n:
        if rng.random() < 0.8:
            out.add(f"{rng.randint(1, 9)}{''.join(rng.choices(_LETTERS, k=3))}{rng.randint(0, 999):03d}")
        else:
            out.add("".join(rng.choices(_ALNUM, k=rng.randint(5, 8))))
    return sorted(out)


def random_reads(plates: list[str], rng: random.Random, count: int = READS) -> list[TextReading]:
    """Reads with confidences and alternatives: half from `plates` (a quarter of those with a look-alike swap)."""
    reads = []
    for k in range(count):
        text = rng.choice(plates) if k % 2 == 0 else "".join(rng.choices(_ALNUM, k=7))
        chars = list(text)
        if k % 8 == 0:
            i = rng.randrange(len(chars))
            if partners(chars[i]):
                chars[i] = rng.choice(partners(chars[i]))
        text = "".join(chars)
        conf = tuple(rng.uniform(0.6, 1.0) for _ in text)
        alts = []
        for i in sorted(range(len(text)), key=lambda j: conf[j])[:3]:
            if partners(text[i]):
                alts.append(Alternative(text[:i] + partners(text[i])[0] + text[i + 1:], (1 - conf[i]) * 0.9))
        reads.append(TextReading(text, min(conf), conf, tuple(alts)))
    return reads


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_import(lines: int, rng: random.Random) -> dict:
    """Write a `lines`-row CSV to a temporary folder, then time parse, replace and check."""
    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "list.csv"
        with path.open("w") as f:
            f.write("plate,state,description,reason,case_number\n")
            for i, p in enumerate(random_plates(lines, rng)):
                f.write(f"{p},CA,2019 TOYT CAM BLK,stolen vehicle,V{i:09d}\n")
        size_mb = path.stat().st_size / 1e6
        gc.collect()
        before = _rss_mb()
        t0 = time.perf_counter()
        parsed = parse_csv(path.read_bytes(), "bench", source="bench", now=now)
        t1 = time.perf_counter()
        result = replace_list((), parsed)
        t2 = time.perf_counter()
        report = check(parsed.entries, now=now, lines=parsed.lines)
        t3 = time.perf_counter()
        peak = _rss_mb()
    out = {"lines": lines, "file_mb": round(size_mb, 1), "parse_s": round(t1 - t0, 2), "replace_s": round(t2 - t1, 2),
           "check_s": round(t3 - t2, 2), "entries": len(result.entries), "rejected": result.rejected_count,
           "twins_found": report.counts["lookalike_twin"], "peak_rss_growth_mb": round(peak - before, 1),
           "peak_rss_mb": round(peak, 1)}
    del parsed, result, report
    gc.collect()
    return out


def bench_match(size: int, plates: list[str], reads: list[TextReading]) -> dict:
    """Mean and p99 latency of `Matcher.match` over `reads` for a list of `size` plates plus 20 patterns."""
    now = datetime.now(timezone.utc)
    stolen = Hotlist("stolen", "Stolen vehicles", "stolen_vehicle", policy="lookalike", lookalike_budget=1)
    partial = Hotlist("partial", "Major incidents", "partial_plate_major_incident", priority=1)
    entries = [synced_entry("stolen", p, entered_by="bench", entered_at=now) for p in plates[:size]]
    patterns = [synced_entry("partial", f"{p[:3]}*", entered_by="bench", entered_at=now) for p in plates[:20]]
    t0 = time.perf_counter()
    matcher = Matcher([(stolen, entries), (partial, patterns)])
    build = time.perf_counter() - t0
    for r in reads[:200]:
        matcher.match(r)  # warm-up
    lat = []
    hits = 0
    for r in reads:
        t = time.perf_counter_ns()
        hits += len(matcher.match(r))
        lat.append((time.perf_counter_ns() - t) / 1000)
    lat.sort()
    return {"entries": size, "build_s": round(build, 2), "mean_us": round(statistics.fmean(lat), 1),
            "p99_us": round(lat[int(0.99 * len(lat)) - 1], 1), "max_us": round(lat[-1], 1), "reads": len(reads),
            "hits": hits}


def run_bench(as_json: bool) -> int:
    """Print the figures (or one JSON object); exit code 0."""
    rng = random.Random(7)
    imp = bench_import(IMPORT_LINES, rng)
    if not as_json:
        print(f"import {imp['lines']:,} CSV lines ({imp['file_mb']} MB): parse {imp['parse_s']} s, replace "
              f"{imp['replace_s']} s, check {imp['check_s']} s, peak memory +{imp['peak_rss_growth_mb']} MB "
              f"(process {imp['peak_rss_mb']} MB), {imp['twins_found']} look-alike twins", flush=True)
    plates = random_plates(max(SIZES), rng)
    rng.shuffle(plates)
    results = []
    for size in SIZES:
        r = bench_match(size, plates, random_reads(plates[:size], rng))
        results.append(r)
        if not as_json:
            print(f"match against {size:>9,} entries: mean {r['mean_us']} us, p99 {r['p99_us']} us, "
                  f"max {r['max_us']} us (index built in {r['build_s']} s; {r['hits']} hits in {r['reads']} reads)",
                  flush=True)
    if as_json:
        print(json.dumps({"import": imp, "match": results}))
    return 0
