"""Searching reads by plate (exact or with wildcards), camera and time range; newest first.

Plate patterns use the hotlist's wildcards: `?` one character, `*` any run (also none).
They become SQLite GLOB patterns, which are case-sensitive (plates are upper case) and,
unlike LIKE, let a prefix such as `7AB*` use the text index. A pattern that starts with
a wildcard scans the compact `reads_text` index (text and rowid only) instead of the
table, then fetches just the matching rows. Camera and time use the (camera_id,
last_seen) and (last_seen) indexes, whose trailing rowid also gives the order.

The access record every search needs (LG-1, LG-2) is the caller's: this module only reads.
"""

from __future__ import annotations

import re
from datetime import datetime

from peewee import Database

from appliance.store.models import ReadRow
from appliance.store.rows import StoredRead, stored
from appliance.store.times import to_rfc3339

MAX_LIMIT = 1000
_PLATE = re.compile(r"[A-Z0-9?*]{1,16}")
_CAMERA = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def plate_pattern(plate: str) -> tuple[str, bool]:
    """(the GLOB pattern or exact text, whether it has wildcards); ValueError naming what is allowed."""
    if not isinstance(plate, str):
        raise ValueError(f"plate must be text; got {type(plate).__name__}")
    p = plate.strip().upper()
    if not _PLATE.fullmatch(p):
        raise ValueError("plate must be 1-16 characters A-Z, 0-9, '?' (any one character) or '*' "
                         f"(any run of characters); got {plate!r}")
    return p, any(c in p for c in "?*")


def search(db: Database, *, plate: str | None = None, camera: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 100) -> list[StoredRead]:
    """Reads matching every given filter, newest last_seen first; `since` inclusive, `until` exclusive."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
    text, wild = plate_pattern(plate) if plate is not None else ("", False)
    # An exact plate or a literal prefix is the narrowest filter: the other columns get a unary
    # `+`, which keeps SQLite from driving the query by their index (and scanning a camera's
    # whole history to keep the ORDER BY free) instead of the plate's.
    by_plate = plate is not None and text[0] not in "?*"
    col = (lambda c: "+" + c) if by_plate else (lambda c: c)
    where: list[str] = []
    params: list[object] = []
    if camera is not None:
        if not isinstance(camera, str) or not _CAMERA.fullmatch(camera):
            raise ValueError(f"camera must be a camera name (1-64 letters, digits, '.', '_' or '-'); got {camera!r}")
        where.append(f"{col('camera_id')} = ?")
        params.append(camera)
    for t, op in ((since, ">="), (until, "<")):
        if t is not None:
            where.append(f"{col('last_seen')} {op} ?")
            params.append(to_rfc3339(t))  # refuses naive times
    if since is not None and until is not None and since >= until:
        raise ValueError(f"since must be before until; got {to_rfc3339(since)} and {to_rfc3339(until)}")
    if plate is not None:
        if not wild:
            where.append("text = ?")
        elif by_plate or where:  # a literal prefix uses the index range; other filters narrow first
            where.append("text GLOB ?")
        else:  # a leading wildcard alone: scan the compact text index, not the table
            where.append("rowid IN (SELECT rowid FROM reads INDEXED BY reads_text WHERE text GLOB ?)")
        params.append(text)
    order = "last_seen DESC, rowid DESC"  # (last_seen) or (camera_id = ?, last_seen) give this order
    sql = (f"SELECT * FROM reads{' WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY {order} LIMIT ?")
    return [stored(r) for r in ReadRow.raw(sql, *params, limit).bind(db)]
