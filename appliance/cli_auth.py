"""Sign-in for command-line access to plate data (POLICY AC-10), by the web sign-in's own rules.

A person at a terminal is asked for username, password and TOTP code (getpass, nothing
echoed); a script gives `--user NAME` with the password from `--password-file FILE` ('-':
standard input) or ALPR_PASSWORD, and the code from `--totp CODE` or ALPR_TOTP. The checks
are the web UI's, through the same functions: the password and lockout (users.verify,
users.record_failure: AC-5, AC-6), disabled and 90-day inactive accounts (AC-3), the second
factor with replay refused (totp.verify_code, settings.mfa_required: AC-4) and the training
gate (training.current_record: TR-1). Every outcome is a security event in the access-record
chain (LG-6); a sign-in whose record cannot be written does not happen (LG-4).

A refusal raises SignInError with a message that says why and what to do; `alpr` prints it
and exits 2, as for every other refused command. The command-line user already holds the
store's key (root or the alpr user on the device), so unlike the web page the message may say
that an account is locked or disabled.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO

from argon2 import PasswordHasher

from appliance import settings, totp, training, users
from appliance.audit import security
from appliance.errors import AccountError, SignInError
from appliance.roles import DATA_ROLES
from appliance.store import Store
from appliance.user_command import read_password

log = logging.getLogger(__name__)

CLIENT = "cli"
PASSWORD_ENV, CODE_ENV = "ALPR_PASSWORD", "ALPR_TOTP"
FAILED = ("sign-in refused: invalid username or password (5 failures in 15 minutes lock the account "
          "until an administrator unlocks it)")


@dataclass(frozen=True)
class AuthenticatedUser:
    """Who signed in on the command line, for the command's own access records."""

    id: int
    username: str
    role: str
    at: datetime
    client: str = CLIENT


def add_auth_arguments(p: argparse.ArgumentParser) -> None:
    """--user, --password-file and --totp: for every command that shows plate data."""
    g = p.add_argument_group("sign-in (POLICY AC-10; asked for at a terminal when not given)")
    g.add_argument("--user", help="your username")
    g.add_argument("--password-file", dest="auth_password_file",
                   help=f"read your password from this file's first line ('-': standard input; or set {PASSWORD_ENV})")
    g.add_argument("--totp", help=f"the six-digit code of your authenticator (or set {CODE_ENV})")


def authenticate_args(store: Store, a: argparse.Namespace, *, roles: frozenset[str] = DATA_ROLES,
                      hasher: PasswordHasher | None = None) -> AuthenticatedUser:
    """`authenticate_cli` with the options of `add_auth_arguments`, the real terminal and environment."""
    return authenticate_cli(store, a.user, stdin=sys.stdin, env=os.environ, password_file=a.auth_password_file,
                            code=a.totp, roles=roles, hasher=hasher)


def authenticate_cli(store: Store, username: str | None = None, *, stdin: TextIO, env: Mapping[str, str],
                     password_file: str | None = None, code: str | None = None,
                     roles: frozenset[str] = DATA_ROLES, hasher: PasswordHasher | None = None,
                     now: datetime | None = None, prompt: Callable[[str], str] = getpass.getpass,
                     agency: str = "") -> AuthenticatedUser:
    """Sign a named, trained user in with password and second factor, or raise SignInError."""
    now = now or datetime.now(timezone.utc)
    tty = stdin.isatty()
    name = (username or _ask(tty, "Username: ", stdin, lambda text: _read_line(text, stdin), "--user NAME")).strip()
    password = _password(password_file, env, tty, stdin, prompt)
    user = users.verify(store, name, password, hasher=hasher, now=now)
    if user is None:
        raise SignInError(_refusal(store, name, now, agency))
    mfa = settings.mfa_required(store, user)
    if mfa:
        _second_factor(store, user, code, env, tty, stdin, prompt, now, agency)
    if user.role not in roles:
        _refuse(store, user.username, now, agency, "role",
                f"sign-in refused: your role ({user.role.replace('_', ' ')}) does not give access to this command")
    if training.current_record(store, user.id, now.date()) is None:
        _refuse(store, user.username, now, agency, "training",
                "sign-in refused: access to plate data needs a current training record, and you have none (missing "
                "or expired); ask an administrator to enter your completed training")
    users.signed_in(store, user.id, now)
    security.event(store, "sign-in", user.username, CLIENT, at=now, agency=agency, mfa=mfa)
    log.info("command-line sign-in by %s", user.username)
    return AuthenticatedUser(user.id, user.username, user.role, now)


def _second_factor(store: Store, user: users.User, code: str | None, env: Mapping[str, str], tty: bool,
                   stdin: TextIO, prompt: Callable[[str], str], now: datetime, agency: str) -> None:
    if not user.mfa_enrolled:
        _refuse(store, user.username, now, agency, "second factor",
                "sign-in refused: your account has no second factor yet; sign in to the web UI once to set it up")
    given = code or env.get(CODE_ENV) or _ask(tty, "Authenticator code: ", stdin, prompt, f"--totp CODE or {CODE_ENV}")
    if totp.verify_code(store, user.id, given, now):
        return
    users.second_factor_failed(store, user, CLIENT, now, agency)
    raise SignInError("sign-in refused: that code is wrong, expired or already used (each code works once); "
                      "wait for the next code and try again")


def _refusal(store: Store, name: str, now: datetime, agency: str) -> str:
    """Record the failed password step; the message (locked and disabled accounts are named as such)."""
    security.failed(store, "sign-in failure", name, CLIENT, at=now, agency=agency, step="password")
    account = users.find_user(store, name)
    if account is None:
        return FAILED
    if account.disabled:
        return (f"sign-in refused: the account {account.username} is disabled (by an administrator, or after 90 "
                f"days without a sign-in); an administrator can enable it on the Users page")
    if account.locked:
        security.failed(store, "account locked", account.username, CLIENT, at=now, agency=agency, after="password")
        return (f"sign-in refused: the account {account.username} is locked after 5 failed sign-ins; an "
                f"administrator unlocks it (Users page, or `alpr user unlock {account.username}`)")
    return FAILED


def _refuse(store: Store, username: str, now: datetime, agency: str, step: str, message: str) -> None:
    security.failed(store, "sign-in failure", username, CLIENT, at=now, agency=agency, step=step)
    raise SignInError(message)


def _password(source: str | None, env: Mapping[str, str], tty: bool, stdin: TextIO,
              prompt: Callable[[str], str]) -> str:
    if source:
        try:
            return read_password(source, stdin)
        except (AccountError, OSError) as exc:
            raise SignInError(f"sign-in refused: {exc}") from None
    return env.get(PASSWORD_ENV) or _ask(tty, "Password: ", stdin, prompt, f"--password-file FILE or {PASSWORD_ENV}")


def _ask(tty: bool, question: str, stdin: TextIO, ask: Callable[[str], str], option: str) -> str:
    """Ask at a terminal; a script that gave nothing is told which option to give."""
    if not tty:
        raise SignInError(f"sign-in needed: this command shows plate data (POLICY AC-10); give {option}, "
                          f"or run it at a terminal to be asked")
    answer = ask(question)
    if not answer:
        raise SignInError(f"sign-in refused: nothing entered for {question.rstrip(': ').lower()}")
    return answer


def _read_line(question: str, stdin: TextIO) -> str:
    print(question, end="", file=sys.stderr, flush=True)
    return stdin.readline().rstrip("\n")
