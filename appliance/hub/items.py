"""One JSON shape per record kind, shared by the push (forwarder.py) and the pull API (webui/hub_api.py).

A read is its stored fields (rows.StoredRead.as_json: kind, id, seq, plate text, times
RFC 3339 UTC with milliseconds) plus its crop as base64 JPEG, and its frame when asked
(`frames=True`). An image that is gone (capacity purge, disk full) or damaged is sent as
null: the read's metadata still goes, and `images` says which images the store holds.
An alert is the hit with copies of the entry and list (Alert.to_item), seq its alert seq;
the hit's kind (exact, lookalike ...) is `hit_kind`, since `kind` names the item's kind.
An access record is its chain fields (audit/records.py) with `seq` = `n`, its place in the
chain, so the hub can check the chain itself: each record's prev_hash is the hash
of the record one seq below.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping

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


def _alert(fields: dict, alert_id: str, seq: int) -> dict:
    """The item's `kind` is "alert": the hit's own kind (exact, lookalike ...) goes as `hit_kind`."""
    rest = {k: v for k, v in fields.items() if k != "kind"}
    return {**rest, "hit_kind": fields.get("kind"), "kind": "alert", "id": alert_id, "seq": seq}


def alert_item(alert) -> dict:
    """An appliance.alerts Alert as the hub receives it (pushed or pulled)."""
    return _alert(alert.to_item(), alert.id, alert.seq)


def access_item(record) -> dict:
    """An access record (appliance.audit.records.StoredRecord) as the hub receives it, pushed or pulled.

    Its seq is its place in the chain (`n`), the outbox seq it was queued with, so the hub
    can check the chain itself (`prev_hash`, `hash`) and see a missing record as a gap.
    """
    from appliance.audit.records import as_dict  # the audit package imports the store; keep this lazy
    return {**as_dict(record), "kind": "access", "seq": record.n}


def render(store: Store, entry: Entry, *, frames: bool = False,
           reads: Mapping[str, StoredRead] | None = None) -> dict | None:
    """The outbox entry as an item to push; None when its record is no longer in the store.

    `reads`: the batch's reads fetched at once (Store.get_reads); one query per read made
    the forwarder drain well under 1,000 reads/s (alpr bench hub).
    """
    if entry.kind == "read":
        read = reads.get(entry.id) if reads is not None else store.get_read(entry.id)
        return None if read is None else {**read_item(store, read, frames=frames), "seq": entry.seq}
    if entry.kind == "purge":
        report = store.purge_record(entry.id)
        return None if report is None else {**report.as_json(), "seq": entry.seq}
    if entry.kind == "access" and entry.body is None:  # the chain holds it (audit/records.py)
        from appliance.audit.records import get
        record = get(store, entry.id)
        return None if record is None else access_item(record)
    if entry.body is None:
        return None
    if entry.kind == "alert":
        return _alert(entry.body, entry.id, entry.seq)
    return {**entry.body, "kind": entry.kind, "id": entry.id, "seq": entry.seq}
