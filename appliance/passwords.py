"""The password rules of POLICY AC-5: long, not common, not the username; no composition rules.

NIST SP 800-63B's advice, which the policy follows: length is what counts, so there is no
"one digit, one capital" rule; instead a password is refused when it is on a list of common
or breached passwords, is the account's own name, or repeats a handful of characters.
The list ships in appliance/data/common-passwords.txt (its source is in its header and
in docs/provenance.md).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from appliance.errors import AccountError

MIN_LENGTH = 15  # the default (AC-5); configurable, never below FLOOR_LENGTH
FLOOR_LENGTH = 8
MAX_LENGTH = 1024  # hashing a megabyte on every sign-in attempt is a denial of service
MIN_DISTINCT = 5  # "aaaaaaaaaaaaaaa" or "abababababababab" is long but not a password


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list, lower case."""
    text = files("appliance").joinpath("data/common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password(password: str, *, min_length: int = MIN_LENGTH, username: str = "") -> None:
    """Raise AccountError saying what is wrong, or return when the password may be used."""
    if min_length < FLOOR_LENGTH:
        raise AccountError(f"the minimum password length may not be set below {FLOOR_LENGTH}; got {min_length}")
    if not min_length <= len(password) <= MAX_LENGTH:
        raise AccountError(f"password must be {min_length} to {MAX_LENGTH} characters; "
                           f"got {len(password)} (a few random words make a good one)")
    lowered = password.lower()
    if lowered in common_passwords() or _repeats_common(lowered):
        raise AccountError("that password is on the list of common passwords; choose another "
                           "(a few random words make a good one)")
    if username and username.lower() in lowered:
        raise AccountError("the password may not contain the username")
    if len(set(password)) < MIN_DISTINCT:
        raise AccountError(f"the password repeats too few characters (fewer than {MIN_DISTINCT} different ones)")


def _repeats_common(lowered: str) -> bool:
    """"passwordpassword", "qwertyuiopqwertyuiop": a common password said twice is still common."""
    for n in range(1, len(lowered) // 2 + 1):
        unit = lowered[:n]
        if len(lowered) % n == 0 and unit * (len(lowered) // n) == lowered and unit in common_passwords():
            return True
    return False
