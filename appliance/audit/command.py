"""`alpr audit verify`: walk the access records' hash chain (POLICY LG-3).

Exit 0 when the chain is intact, 1 when it is broken (the first bad record is named),
2 when the store cannot be opened. `cli.py` wires this with `add_parser(sub)`; it only
reads, so it runs beside a live device and web UI.
"""

from __future__ import annotations

import argparse
import sys

from appliance.audit import records, signing
from appliance.standalone import run_standalone
from appliance.store.target import add_store_arguments, open_target


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `audit verify` to the `alpr` command group."""
    a = sub.add_parser("audit", help="the access records (who looked at plate data, why)")
    asub = a.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = asub.add_parser("verify", help="check the access records' hash chain: exit 0 intact, 1 broken")
    add_store_arguments(v)
    v.set_defaults(func=verify)


def verify(a: argparse.Namespace) -> int:
    # purge anchors (LG-5) are checked against the device key kept beside the store's master key
    with open_target(a) as store:
        ok, bad, why = records.verify(store, signing.device_public_key(store.key_folder))
    if ok:
        print(f"access records intact: {why}")
        return 0
    print(f"access records BROKEN at record {bad}: {why}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """`python -m appliance.audit.command verify ...`, the same as `alpr audit verify ...`."""
    return run_standalone(add_parser, "audit", argv)  # any error (a store that will not open) is exit 2


if __name__ == "__main__":
    sys.exit(main())
