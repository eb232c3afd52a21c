"""`alpr provision [--answers FILE] [--dry-run] [--force --reason TEXT] [--root DIR]`.

Without --answers the questions are asked on the terminal. --root puts every system
path (/etc/alpr, /var/lib/alpr, /var/lib/alpr-keys) under DIR, for image builds and
tests. Exit code 0 when provisioning finished (or a dry run found nothing wrong), 2
otherwise. The administrator's password and TOTP key are printed once, here only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from argon2 import PasswordHasher

from appliance.provision.answers import Ask, ask_answers, load_answers
from appliance.provision.checks import Layout
from appliance.provision.runner import Outcome, provision

Printer = Callable[[str], None]
MARKS = {"ok": "  ok  ", "failed": "FAILED", "skipped": " skip "}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `provision` to the `alpr` command group."""
    p = sub.add_parser("provision", help="set up this appliance at the pole: config, keys, certificates, "
                                         "first administrator, report")
    p.add_argument("--answers", help="TOML answers file (default: ask on the terminal)")
    p.add_argument("--dry-run", action="store_true", help="check everything, change nothing")
    p.add_argument("--force", action="store_true", help="finish despite failed checks (needs --reason)")
    p.add_argument("--reason", help="why a forced run was needed; goes in the report")
    p.add_argument("--root", default="/", help="prefix for every system path (image builds, tests; default /)")
    p.set_defaults(func=command)


def command(a: argparse.Namespace, *, ask: Ask = input, out: Printer = print,
            hasher: PasswordHasher | None = None) -> int:
    """Run `alpr provision` from parsed arguments; `ask`, `out` and `hasher` are for tests."""
    if a.force and not (a.reason or "").strip():
        out("alpr provision: --force needs --reason TEXT saying why (it goes in the report)")
        return 2
    if a.reason and not a.force:
        out("alpr provision: --reason goes with --force")
        return 2
    answers = load_answers(Path(a.answers)) if a.answers else ask_answers(ask)
    layout = Layout(Path(a.root))
    result = provision(answers, layout, dry_run=a.dry_run, force_reason=a.reason.strip() if a.force else None,
                       hasher=hasher)
    show(result, layout, out)
    return 0 if result.finished or (result.dry_run and not any(c.failed for c in result.checks)) else 2


def show(result: Outcome, layout: Layout, out: Printer) -> None:
    """Print the checks, what happened, and the secrets once."""
    for c in result.checks:
        out(f"[{MARKS.get(c.status, c.status)}] {c.name}: {c.detail}")
    if result.status == "checked":
        out("dry run: nothing was changed")
    elif result.status == "refused":
        out("provisioning refused: fix the failed checks above (nothing was changed), or finish anyway with "
            "--force --reason TEXT")
    else:
        out(f"provisioning {result.status}; report: {layout.report_json} and {layout.report_html}")
    s = result.secrets
    if s is not None and s.password:
        out("")
        out(f"administrator {s.username}")
        out(f"  password: {s.password}")
        out(f"  TOTP key: {s.totp_secret}")
        out("(shown once, never stored in the report: hand them over safely; add the key to an authenticator app)")


def main(argv: list[str], **kwargs) -> int:
    """Run `provision` on its own (tests; `alpr provision` once cli.py wires it)."""
    p = argparse.ArgumentParser(prog="alpr")
    add_parser(p.add_subparsers(dest="command", required=True))
    return command(p.parse_args(argv), **kwargs)
