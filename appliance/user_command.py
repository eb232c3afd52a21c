"""`alpr user create | unlock | train`: accounts from the command line (provisioning, recovery).

The first administrator comes from here (POLICY AC-9: no account ships). A password comes
from `--password-file FILE` (`-` for standard input: `alpr user create ... --password-file - < secret`),
or is generated and printed once. Each action is an account event whose actor is
"cli:<the operating-system user>". `cli.py` wires these with `add_parser(sub)`; the store
may stay open elsewhere (the web UI), these are short transactions like the UI's own.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from appliance import training, users
from appliance.errors import AccountError
from appliance.store.target import add_store_arguments, open_target

GENERATED_BYTES = 18  # 24 URL-safe characters, well past the 15-character minimum


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `user create`, `user unlock` and `user train` to the `alpr` command group."""
    u = sub.add_parser("user", help="manage web UI accounts: create, unlock, enter training")
    usub = u.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = usub.add_parser("create", help="add a named account (the password is generated and printed unless given)")
    c.add_argument("--role", required=True, choices=users.ROLES, help="the account's role (POLICY AC-2)")
    c.add_argument("--password-file", help="read the password from this file's first line ('-': standard input)")
    un = usub.add_parser("unlock", help="clear a lockout after 5 failed sign-ins (POLICY AC-6)")
    t = usub.add_parser("train", help="enter a completed training course (POLICY TR-1); logged with its author")
    t.add_argument("--course", required=True, help="course name, e.g. 'ALPR operator'")
    t.add_argument("--version", required=True, help="course version, e.g. '2026.1'")
    t.add_argument("--expires", required=True, type=_date, help="last day the training counts (YYYY-MM-DD)")
    t.add_argument("--completed", type=_date, help="day the course was passed (YYYY-MM-DD; default today)")
    for p, func in ((c, create), (un, unlock), (t, train)):
        p.add_argument("username", metavar="USERNAME")
        add_store_arguments(p)
        p.set_defaults(func=func)


def create(a: argparse.Namespace, *, hasher=None) -> int:
    """`alpr user create`: print the account, and the password when it was generated."""
    generated = a.password_file is None
    password = secrets.token_urlsafe(GENERATED_BYTES) if generated else read_password(a.password_file)
    with open_target(a) as store:
        user = users.create_user(store, a.username, password, a.role, hasher=hasher, actor=_actor())
    print(f"created {user.username} ({user.role}); a second factor is set up at first sign-in")
    if generated:
        print(f"password: {password}")
        print("(shown once: hand it over safely; the user should change it)")
    return 0


def unlock(a: argparse.Namespace) -> int:
    """`alpr user unlock`."""
    with open_target(a) as store:
        user = users.unlock(store, a.username, actor=_actor())
    print(f"{user.username}: unlocked")
    return 0


def train(a: argparse.Namespace) -> int:
    """`alpr user train`."""
    now = datetime.now(timezone.utc)
    with open_target(a) as store:
        r = training.add_record(store, a.username, a.course, a.version, a.completed or now.date(), a.expires,
                                actor=_actor(), now=now)
    print(f"{r.username}: {r.course} {r.version} completed {r.completed}, counts until {r.expires}")
    return 0


def main(argv: list[str]) -> int:
    """Run one `user` command on its own (tests; `alpr user ...` once cli.py wires it)."""
    p = argparse.ArgumentParser(prog="alpr")
    add_parser(p.add_subparsers(dest="command", required=True))
    a = p.parse_args(argv)
    try:
        return a.func(a)
    except AccountError as exc:
        print(f"alpr user {a.action}: {exc}", file=sys.stderr)
        return 2


def read_password(source: str, stdin=None) -> str:
    """The first line of `source` (a file, or '-' for standard input): the password, as typed."""
    text = (stdin or sys.stdin).read() if source == "-" else Path(source).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or not lines[0]:
        where = "standard input" if source == "-" else source
        raise AccountError(f"no password in {where}: its first line must hold the password")
    return lines[0]  # the first line, as typed: spaces inside count, the newline does not


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"dates are YYYY-MM-DD, e.g. 2027-01-31; got {text!r}") from None


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


