"""The one console script, `alpr`: a command group with one subcommand per job."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from appliance.errors import AlprError


def _read(a: argparse.Namespace) -> int:
    from appliance.read_command import run
    return run(a.images, crops=a.crops, as_json=a.json, threads=a.threads)


def _eval(a: argparse.Namespace) -> int:
    from appliance.evaluation import evaluate_crops, evaluate_scenes
    from appliance.recognition.detector import PlateDetector
    from appliance.recognition.engine import Recognizer
    from appliance.recognition.reader import PlateReader
    only = set(Path(a.files).read_text().split()) if a.files else None
    reader = PlateReader(Path(a.reader) if a.reader else None, threads=a.threads)
    if a.crops:
        s = evaluate_crops(Recognizer(reader), Path(a.dir), only).summary()
        line = (f"{s['correct']}/{s['crops']} exact = {100 * s['exact_accuracy']:.1f} %, reader "
                f"{s['ms_per_crop_mean']:.2f} ms per crop (median {s['ms_per_crop_median']:.2f}), decode {s['decode_ms_mean']:.2f} ms")
    else:
        engine = Recognizer(reader, PlateDetector(threads=a.threads))
        s = evaluate_scenes(engine, Path(a.dir), only).summary()
        line = (f"{s['plates']} plates in {s['images']} images: exact = {100 * s['exact_accuracy']:.1f} %, "
                f"found = {100 * s['detection_recall']:.1f} %, {s['ms_per_image_mean']:.1f} ms per image "
                f"(median {s['ms_per_image_median']:.1f}, decode included)")
    if a.json:
        print(json.dumps(s))
        return 0
    for f in s["failures"]:
        print(f"  miss {f['file']}: truth {f['truth']} read {f['read'] or '(nothing)'}")
    print(line)
    return 0


def _bench(a: argparse.Namespace) -> int:
    from appliance.bench import bench_pipeline, run_bench
    if a.what == "store":
        from appliance.store.bench import run_bench as store_bench
        return store_bench(a.reads or 1_000_000, a.json, folder=Path(a.dir) if a.dir else None)
    if a.what == "hub":
        from appliance.hub.bench import run_bench as hub_bench
        return hub_bench(a.reads or 100_000, a.json, crops=a.crops, batch=a.batch,
                         folder=Path(a.dir) if a.dir else None)
    if a.what == "hotlist":
        from appliance.hotlists.bench import run_bench as hotlist_bench
        return hotlist_bench(a.json)
    if a.what == "pipeline":
        return bench_pipeline(a.seconds, a.json)
    return run_bench(a.frames, a.json)


def _run(a: argparse.Namespace) -> int:
    import os
    from appliance.config import load_config
    from appliance.runtime import run_device
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    return run_device(load_config(Path(a.config) if a.config else None, os.environ))


def _demo(a: argparse.Namespace) -> int:
    from appliance.demo import run_demo
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    return run_demo(Path(a.data) if a.data else None, a.port, a.hub)


def _config(a: argparse.Namespace) -> int:
    from appliance.config_command import check
    return check(a.file)


def build_parser() -> argparse.ArgumentParser:
    import appliance
    p = argparse.ArgumentParser(prog="alpr", description="Licence-plate reader appliance.")
    p.add_argument("--version", action="version", version=f"%(prog)s {appliance.version}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    r = sub.add_parser("read", help="read plates in still images (one JSON line per image with --json)")
    r.add_argument("images", nargs="+", metavar="IMAGE")
    r.add_argument("--json", action="store_true", help="print the JSON contract of docs/architecture.md")
    r.add_argument("--crops", action="store_true", help="each image is already a tight plate crop")
    r.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads (default 1)")
    r.set_defaults(func=_read)
    e = sub.add_parser("eval", help="exact-match accuracy and speed on a labelled folder")
    e.add_argument("dir", metavar="DIR", help="openalpr format (*.jpg + *.txt 'file x y w h PLATE'), or crops with --crops")
    e.add_argument("--crops", action="store_true", help="DIR holds crops and labels.csv (file,state,plate)")
    e.add_argument("--files", help="a file listing the crop names to use (default: all)")
    e.add_argument("--json", action="store_true", help="print one JSON summary")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--reader", metavar="MODEL", help="score this reader ONNX file instead of the shipped one "
                   "(a candidate from python -m training.reader.export --out MODEL)")
    e.set_defaults(func=_eval)
    b = sub.add_parser("bench", help="speed and memory benchmarks (not a test)")
    b.add_argument("what", choices=["recognition", "pipeline", "hotlist", "store", "hub"], help="what to benchmark")
    b.add_argument("--frames", type=int, default=30, help="recognition: frames per configuration")
    b.add_argument("--seconds", type=float, default=30, help="pipeline: seconds per configuration")
    b.add_argument("--reads", type=int, default=None, help="store: metadata reads to insert (default 1,000,000); "
                   "hub: backlog to drain (default 100,000)")
    b.add_argument("--crops", type=int, default=None, help="hub: reads with a crop to drain too (default reads/10, "
                   "at most 5,000)")
    b.add_argument("--batch", type=int, default=1000, help="hub: records per push (1-1000)")
    b.add_argument("--dir", help="store: folder for the throw-away store (default: the system temp folder)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=_bench)
    run = sub.add_parser("run", help="the device process: camera -> recognition -> tracker -> store, until SIGTERM")
    run.add_argument("--config", help="TOML config file (default /etc/alpr/alpr.toml)")
    run.set_defaults(func=_run)
    d = sub.add_parser("demo", help="the device loop and web UI on a replayed drive-by (see README)")
    d.add_argument("--data", help="folder for the drive-by, store and demo.json (default: a new temporary folder)")
    d.add_argument("--port", type=int, default=8080, help="web UI port on 127.0.0.1 (default 8080)")
    d.add_argument("--hub", help="agency hub URL to push the demo's records to (default: a local recording hub)")
    d.set_defaults(func=_demo)
    c = sub.add_parser("config", help="check a configuration file (docs/configuration.md)")
    csub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    ck = csub.add_parser("check", help="print 'FILE: ok' and a summary (exit 0), or every problem (exit 2)")
    ck.add_argument("file", metavar="FILE", help="the TOML file, e.g. /etc/alpr/alpr.toml")
    ck.set_defaults(func=_config)
    from appliance.store.command import add_parser as add_store_parser
    add_store_parser(sub)  # alpr store rotate-key | wipe --yes-destroy-all-data
    from appliance.user_command import add_parser as add_user_parser
    add_user_parser(sub)  # alpr user create --role R NAME [--password-file F|-] | unlock NAME | train NAME ...
    from appliance.serve import add_parser as add_serve_parser
    add_serve_parser(sub)  # alpr serve [--config F] [--cert PEM --key PEM]
    from appliance.hub.command import add_parser as add_hub_parser
    add_hub_parser(sub)  # alpr hub token create NAME | revoke NAME | list
    from appliance.provision.command import add_parser as add_provision_parser
    add_provision_parser(sub)  # alpr provision [--answers F] [--dry-run] [--force --reason R] [--root DIR]
    from appliance.audit.command import add_parser as add_audit_parser
    add_audit_parser(sub)  # alpr audit verify [--store DIR --key-file F]: exit 0 intact, 1 broken
    from appliance.hotlists.command import add_parser as add_hotlist_parser
    add_hotlist_parser(sub)  # alpr hotlist import FILE --list NAME --format csv|ncic|json [--check-only] | list | show NAME
    from appliance.audit.hold_command import add_parser as add_hold_parser
    add_hold_parser(sub)  # alpr hold place --case C --reason R --requester P READ_ID... | release HOLD_ID --reason R | list [--all]
    from appliance.audit.evidence_command import add_parser as add_evidence_parser
    add_evidence_parser(sub)  # alpr evidence export --case C --out FILE --reason R | verify FILE [--key PEM]: exit 0 intact, 1 not
    from appliance.provision.renewal import add_parser as add_cert_parser
    add_cert_parser(sub)  # alpr cert status | renew [--restart CMD]
    from appliance.update.command import add_parser as add_update_parser
    add_update_parser(sub)  # alpr update BUNDLE | --status; alpr release keygen --out K | build --signer K --version V --out B
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.func(a)
    except AlprError as exc:
        print(f"alpr {a.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
