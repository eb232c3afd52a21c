"""`alpr hub token create NAME | revoke NAME | list`: the pull API's client tokens (tokens.py), and
`alpr hub cert add NAME --cert FILE | --fingerprint SHA256, revoke NAME [--fingerprint], list`:
its client certificates (client_certs.py).

A token is printed once, when created, and cannot be shown again (only its hash is kept):
give it to the hub's operator over a channel you trust. `cli.py` wires these with
`add_parser(sub)`; like `alpr user`, they are short transactions beside a running web UI.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable, Iterable
from pathlib import Path

from appliance.hub import client_certs, tokens
from appliance.store.times import to_rfc3339
from appliance.store.target import add_store_arguments, open_target


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `hub token create|revoke|list` and `hub cert add|revoke|list` to the `alpr` command group."""
    h = sub.add_parser("hub", help="the agency hub link: pull-API client tokens and certificates")
    hsub = h.add_subparsers(dest="area", required=True, metavar="AREA")
    t = hsub.add_parser("token", help="bearer tokens that let a hub pull reads (GET /api/v1/...)")
    tsub = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = tsub.add_parser("create", help="make a token for a hub client and print it once")
    r = tsub.add_parser("revoke", help="stop a client's token from opening anything")
    ls = tsub.add_parser("list", help="the clients with tokens, when made, whether revoked")
    _client_actions(((c, create), (r, revoke), (ls, list_all)), listing=ls)
    _add_cert_parser(hsub)


def _add_cert_parser(hsub: argparse._SubParsersAction) -> None:
    """`hub cert add NAME (--cert FILE | --fingerprint HEX) | revoke NAME [--fingerprint HEX] | list`."""
    t = hsub.add_parser("cert", help="client certificates that let a hub pull reads (with web.client_ca)")
    tsub = t.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = tsub.add_parser("add", help="register a certificate (issued under web.client_ca) as a hub client")
    r = tsub.add_parser("revoke", help="stop a client's certificates (or one of them) from opening anything")
    ls = tsub.add_parser("list", help="the registered certificates, their clients, whether revoked")
    _client_actions(((a, cert_add), (r, cert_revoke), (ls, cert_list)), listing=ls)
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--cert", metavar="FILE", help="the client's certificate (PEM or DER)")
    which.add_argument("--fingerprint", metavar="SHA256", help="the certificate's SHA-256 fingerprint (hex, "
                       "colons allowed): openssl x509 -noout -fingerprint -sha256 -in FILE")
    r.add_argument("--fingerprint", metavar="SHA256", help="revoke only this certificate of the client")


def _client_actions(actions: Iterable[tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], int]]], *,
                    listing: argparse.ArgumentParser) -> None:
    """Each action's parser: the client's NAME (all but `listing`), the store options, its function."""
    for p, func in actions:
        if p is not listing:
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


def cert_add(a: argparse.Namespace) -> int:
    if a.cert:
        fingerprint, subject, not_after = client_certs.read_cert_file(Path(a.cert))
    else:
        fingerprint, subject, not_after = a.fingerprint, "", None
    with open_target(a) as store:
        fp = client_certs.add(store, a.name, fingerprint, subject=subject, not_after=not_after,
                              actor=f"cli:{getpass.getuser()}")
    print(f"hub client {a.name} may pull with the certificate SHA-256 {fp}"
          + (f" ({subject})" if subject else "") + " when it chains to web.client_ca")
    return 0


def cert_revoke(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        n = client_certs.revoke(store, a.name, a.fingerprint)
    print(f"{n} certificate(s) of hub client {a.name} revoked")
    return 0


def cert_list(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        for c in client_certs.list_certs(store):
            state = "active" if c.revoked_at is None else f"revoked {to_rfc3339(c.revoked_at)}"
            expires = "" if c.not_after is None else f"\texpires {to_rfc3339(c.not_after)}"
            print(f"{c.name}\t{c.fingerprint}\t{c.subject or '-'}{expires}\tadded {to_rfc3339(c.created_at)} "
                  f"by {c.created_by}\t{state}")
    return 0


def list_all(a: argparse.Namespace) -> int:
    with open_target(a) as store:
        for t in tokens.list_tokens(store):
            state = "active" if t.revoked_at is None else f"revoked {to_rfc3339(t.revoked_at)}"
            print(f"{t.name}\tcreated {to_rfc3339(t.created_at)} by {t.created_by}\t{state}")
    return 0


