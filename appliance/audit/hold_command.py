"""`alpr hold place|release|list`: legal holds from the command line (POLICY RT-3, AC-10).

Placing and releasing need a signed-in supervisor or records manager (cli_auth.py, the web
sign-in's rules) and write an access record like the UI; listing shows case numbers and
read ids but no plate data, and still needs a sign-in (it says which cases are under hold).
`cli.py` wires this with `add_parser(sub)`.
"""

from __future__ import annotations

import argparse
import json
import sys

from appliance.audit import holds
from appliance.audit.holds import Actor
from appliance.cli_auth import add_auth_arguments, authenticate_args
from appliance.roles import HOLDERS
from appliance.store.target import add_store_arguments, open_target


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `hold place|release|list` to the `alpr` command group."""
    h = sub.add_parser("hold", help="legal holds: keep reads past retention for a case (RT-3)")
    hsub = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = hsub.add_parser("place", help="hold reads for a case until released")
    p.add_argument("--case", required=True, help="case number (3-40 letters, digits, spaces, . _ / # -)")
    p.add_argument("--reason", required=True, help="why the reads are held (at least 10 characters)")
    p.add_argument("--requester", required=True, help="who asked for the hold (name, unit, agency)")
    p.add_argument("--category", default="criminal investigation", choices=holds.HOLD_PURPOSES,
                   help="purpose category (default: criminal investigation)")
    p.add_argument("read_ids", nargs="+", metavar="READ_ID", help="ids of the reads to hold")
    p.set_defaults(func=place)
    r = hsub.add_parser("release", help="release a hold; its reads go with the next purge once past retention")
    r.add_argument("hold_id", metavar="HOLD_ID")
    r.add_argument("--reason", required=True, help="why the hold ends (at least 10 characters)")
    r.set_defaults(func=release)
    ls = hsub.add_parser("list", help="active holds (one JSON line each); --all includes released ones")
    ls.add_argument("--all", action="store_true", help="released holds too")
    ls.add_argument("--case", help="only this case's holds")
    ls.set_defaults(func=list_)
    for q in (p, r, ls):
        add_store_arguments(q)
        add_auth_arguments(q)


def _actor(store, a: argparse.Namespace) -> Actor:
    user = authenticate_args(store, a, roles=HOLDERS)
    return Actor(user.username, user.client)


def place(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        hold = holds.place(store, case_number=a.case, reason=a.reason, requester=a.requester, read_ids=a.read_ids,
                           actor=_actor(store, a), purpose_category=a.category)
    print(f"legal hold {hold.id} placed for case {hold.case_number} on {len(hold.read_ids)} read(s)")
    return 0


def release(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        hold = holds.release(store, a.hold_id, reason=a.reason, actor=_actor(store, a))
    print(f"legal hold {hold.id} (case {hold.case_number}) released by {hold.released_by} at {hold.released_at}")
    return 0


def list_(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        _actor(store, a)
        found = holds.list_holds(store, active=None if a.all else True, case_number=a.case)
    for h in found:
        print(json.dumps({**h.__dict__, "read_ids": list(h.read_ids)}, sort_keys=True))
    if not found:
        print("no legal holds", file=sys.stderr)
    return 0
