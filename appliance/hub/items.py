"""One JSON shape per record kind, shared by the push (forwarder.py) and the pull API (webui/hub_api.py).

A read is its stored fields (rows.StoredRead.as_json: kind, id, seq, plate text, times
RFC 3339 UTC with milliseconds) plus its crop as base64 JPEG, and its frame when asked
(`frames=True`). An image that is gone (capacity purge, disk full) or damaged is sent as
null: the read's metadata still goes, and `images` says which images the store holds.
"""

from __future__ import annotations

import base64
import logging

from appliance.store import ImageDamagedError, Store, StoredRead
from appliance.store.outbox import Entry

log = logging.getLogger(__name__)


def _image(store: Store, read_id: str, kind: str) -> str | None:
    try:
        data = store.image_bytes(read_id, kind)  # type: ignore[arg-type]
    except ImageDamagedError:
        log.error("the %s of read %s is damaged; sent without it", kind, read_id)
        return None
    return None if data is None else base64.b64encode(data).decode("ascii")


def read_item(store: Store, read: StoredRead, *, frames: bool = False) -> dict:
    """The read as the hub receives it (pushed or pulled)."""
    item = read.as_json()
    item["crop"] = _image(store, read.id, "crop") if "crop" in read.images else None
    if frames:
        item["frame"] = _image(store, read.id, "frame") if "frame" in read.images else None
    return item


def render(store: Store, entry: Entry, *, frames: bool = False) -> dict | None:
    """The outbox entry as an item to push; None when its record is no longer in the store."""
    if entry.kind == "read":
        read = store.get_read(entry.id)
        return None if read is None else {**read_item(store, read, frames=frames), "seq": entry.seq}
    if entry.kind == "purge":
        report = store.purge_record(entry.id)
        return None if report is None else {**report.as_json(), "seq": entry.seq}
    if entry.body is None:
        return None
    return {**entry.body, "kind": entry.kind, "id": entry.id, "seq": entry.seq}
