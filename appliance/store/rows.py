"""Between the domain's Read and the reads table: checked columns in, StoredRead out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from appliance.store.models import ReadRow
from appliance.store.times import from_rfc3339, to_rfc3339
from appliance.types import Alternative, Read

DIRECTIONS = ("up", "down", "left", "right", "stationary", "unknown")


@dataclass(frozen=True)
class StoredRead:
    """A read as the store gives it back: the Read's fields without pixels, plus when it was stored."""

    id: str
    device_id: str
    camera_id: str
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    alternatives: tuple[Alternative, ...]
    first_seen: datetime
    last_seen: datetime
    clock_synced: bool
    box: tuple[int, int, int, int]
    direction: str
    frames_seen: int
    stored_at: datetime
    damaged: tuple[str, ...] = ()  # image kinds whose file failed authentication
    hit: bool = False
    hold: bool = False
    confirmed_at: datetime | None = None  # when the hub confirmed receipt; None: not yet
    gone: tuple[tuple[str, str], ...] = ()  # (kind, why) for each image not kept, e.g. ("frame", "not kept")
    seq: int | None = None  # the read's place in the device's sequence of reads (the hub sees gaps by it)

    @property
    def images(self) -> tuple[str, ...]:
        """The image kinds the store still holds for this read."""
        missing = {kind for kind, _ in self.gone}
        return tuple(k for k in ("crop", "frame") if k not in missing)

    def as_json(self) -> dict:
        """The JSON shape the hub API and the web UI share (times RFC 3339 UTC, milliseconds)."""
        return {"kind": "read", "id": self.id, "seq": self.seq, "device_id": self.device_id, "camera_id": self.camera_id,
                "text": self.text, "confidence": self.confidence,
                "char_confidences": list(self.char_confidences),
                "alternatives": [{"text": a.text, "score": a.score} for a in self.alternatives],
                "first_seen": to_rfc3339(self.first_seen), "last_seen": to_rfc3339(self.last_seen),
                "clock_synced": self.clock_synced, "box": list(self.box), "direction": self.direction,
                "frames_seen": self.frames_seen, "hit": self.hit, "images": list(self.images)}


def row_fields(read: Read) -> dict:
    """The read's columns, checked: a bad value is refused here, before any file is written."""
    if read.direction not in DIRECTIONS:
        raise ValueError(f"read.direction must be one of {', '.join(DIRECTIONS)}; got {read.direction!r}")
    if len(read.box) != 4:
        raise ValueError(f"read.box must be (x, y, w, h); got {read.box!r}")
    return {
        "id": read.id, "device_id": read.device_id, "camera_id": read.camera_id, "text": read.text,
        "confidence": float(read.confidence),
        "char_confidences": json.dumps([float(c) for c in read.char_confidences]),
        "alternatives": json.dumps([{"text": a.text, "score": float(a.score)} for a in read.alternatives]),
        "first_seen": to_rfc3339(read.first_seen), "last_seen": to_rfc3339(read.last_seen),
        "clock_synced": bool(read.clock_synced),
        "box_x": int(read.box[0]), "box_y": int(read.box[1]), "box_w": int(read.box[2]), "box_h": int(read.box[3]),
        "direction": read.direction, "frames_seen": int(read.frames_seen),
    }


def stored(r: ReadRow) -> StoredRead:
    """The row as the domain sees it (JSON columns parsed, times aware UTC)."""
    return StoredRead(
        id=r.id, device_id=r.device_id, camera_id=r.camera_id, text=r.text, confidence=r.confidence,
        char_confidences=tuple(json.loads(r.char_confidences)),
        alternatives=tuple(Alternative(a["text"], a["score"]) for a in json.loads(r.alternatives)),
        first_seen=from_rfc3339(r.first_seen), last_seen=from_rfc3339(r.last_seen),
        clock_synced=bool(r.clock_synced), box=(r.box_x, r.box_y, r.box_w, r.box_h),
        direction=r.direction, frames_seen=r.frames_seen, stored_at=from_rfc3339(r.stored_at),
        damaged=tuple(k for k, bad in (("crop", r.crop_damaged), ("frame", r.frame_damaged)) if bad),
        hit=bool(r.hit), hold=bool(r.hold),
        confirmed_at=None if r.confirmed_at is None else from_rfc3339(r.confirmed_at),
        gone=tuple((k, why) for k, why in (("crop", r.crop_gone), ("frame", r.frame_gone)) if why is not None),
        seq=r.seq)
