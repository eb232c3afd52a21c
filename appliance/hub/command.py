"""`alpr hub token create NAME | revoke NAME | list`: the pull API's client tokens (tokens.py).

A token is printed once, when created, and cannot be shown again (only its hash is kept):
give it to the hub's operator over a channel you trust. `cli.py` wires these with
`add_parser(sub)`; like `alpr user`, they are short transactions beside a running web UI.
"""

from __future__ import annotations

import argparse
import getpass

from appliance.hub import tokens
from appliance.store.times import to_rfc3339
from appliance.store.target import add_store_arguments, open_target


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `hub token create|revoke|list` to the `alpr` command group."""
    h = sub.add_parser("hub", help="the agency hub link: pull-API client tokens")
    hsub = h.add_subparsers(dest="area", required=True, metavar="AREA")
    t = hsub.add_parser("token", help="bearer tokens that let a hub pull reads (GET /api/v1/...)")
    tsub = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="make a token for a hub client and print it once")
    r = tsub.add_parser("revoke", help="stop a client's token from opening anything")
    ls = tsub.add_parser("list", help="the clients with tokens, when made, whether revoked")
    for p, func in ((c, create), (r, revoke), (ls, list_all)):
        if p is not ls:
            p.add_argument("name", metavar="NAME", help="the hub client's name, e.g. county-hub")
        add_store_arguments(p)
        p.set_defaults(func=func)


def create(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        token = tokens.create(store, a.name, actor=f"cli:{getpass.getuser()}")
    print(f"hub token for {a.name} (shown once; only its hash is kept):\n{token}")
    return 0


def revoke(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        tokens.revoke(store, a.name)
    print(f"hub token {a.name} revoked")
    return 0


def list_all(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        for t in tokens.list_tokens(store):
            state = "active" if t.revoked_at is None else f"revoked {to_rfc3339(t.revoked_at)}"
            print(f"{t.name}\tcreated {to_rfc3339(t.created_at)} by {t.created_by}\t{state}")
    return 0


