"""RFC 3339 UTC times with milliseconds, the one text form the store and the hub API use.

Fixed width and always "Z", so the strings sort in time order and SQLite can index them.
"""

from __future__ import annotations

from datetime import datetime, timezone


def to_rfc3339(t: datetime) -> str:
    """"2026-11-30T04:21:07.183Z" for an aware datetime; naive ones are refused, not guessed."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time must be timezone-aware (UTC); got naive {t.isoformat()}")
    u = t.astimezone(timezone.utc)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond // 1000:03d}Z"


def from_rfc3339(s: str) -> datetime:
    """The aware UTC datetime for a string written by `to_rfc3339` (any RFC 3339 offset is accepted)."""
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time like 2026-11-30T04:21:07.183Z: {s!r}") from None
    if t.tzinfo is None:
        raise ValueError(f"RFC 3339 time needs Z or an offset: {s!r}")
    return t.astimezone(timezone.utc)
