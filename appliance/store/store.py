"""The local store: reads in SQLite (WAL), their crop and frame as JPEG files beside it.

Layout of a store folder::

    FOLDER/alpr.db                               the database (reads, users, schema_version)
    FOLDER/images/YYYY-MM-DD/<id>.crop.jpg       plate crop, day of first_seen (UTC)
    FOLDER/images/YYYY-MM-DD/<id>.frame.jpg      the frame, downscaled
    FOLDER/images/.incoming/                     temp files while writing

Order of `add_read`, so that a power cut never leaves a row pointing at a missing file:
1. encode both JPEGs in memory (a bad image fails here, nothing written);
2. write each under a temp name, fsync it, rename it to its final name, fsync the folder;
3. only then insert the row and commit.
A cut before 3 commits leaves image files with no row (harmless; retention deletes day
folders wholesale) and never a row without files. An exception in 3 deletes the files.

One writer: every write goes through one thread (the pipeline's writer thread); the web
UI's few writes (users, later access records) are short transactions that the busy timeout
serialises. Readers on any thread or in another process read alongside (WAL). Each thread
gets its own connection (peewee's thread-local state); threads other than the one that
calls `close()` should call `disconnect()` when done (the web UI does per request).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from peewee import Database, SqliteDatabase

from appliance.errors import ImageError, StoreError
from appliance.store import files
from appliance.store.models import ReadRow
from appliance.store.schema import migrate
from appliance.store.times import from_rfc3339, to_rfc3339
from appliance.types import Alternative, Read

log = logging.getLogger(__name__)

DB_NAME = "alpr.db"
IMAGE_KINDS = ("crop", "frame")
DIRECTIONS = ("up", "down", "left", "right", "stationary", "unknown")
MAX_LIMIT = 1000


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

    def as_json(self) -> dict:
        """The JSON shape the hub API and the web UI share (times RFC 3339 UTC, milliseconds)."""
        return {"kind": "read", "id": self.id, "device_id": self.device_id, "camera_id": self.camera_id,
                "text": self.text, "confidence": self.confidence,
                "char_confidences": list(self.char_confidences),
                "alternatives": [{"text": a.text, "score": a.score} for a in self.alternatives],
                "first_seen": to_rfc3339(self.first_seen), "last_seen": to_rfc3339(self.last_seen),
                "clock_synced": self.clock_synced, "box": list(self.box), "direction": self.direction,
                "frames_seen": self.frames_seen}


class Store:
    """Reads and their images in one folder; open with `Store.open(folder)`."""

    def __init__(self, folder: Path, database: Database, *, frame_max_width: int = 1280) -> None:
        self.folder = folder
        self.database = database  # public so the web UI can open/close per-request connections
        self.frame_max_width = frame_max_width
        self._images = folder / "images"
        self._incoming = self._images / ".incoming"
        self._closed = False

    @classmethod
    def open(cls, folder: Path, *, busy_timeout_s: float = 5.0, frame_max_width: int = 1280) -> Store:
        """Open (creating if needed) the store in `folder`, migrate its schema, sweep crash leftovers."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise StoreError(f"store folder {folder} is a file: give a folder (it is created if missing)")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / DB_NAME
        if not path.exists():  # create it private before SQLite creates it with the umask's mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        store = cls(folder, cls._make_database(path, busy_timeout_s), frame_max_width=frame_max_width)
        store._images.mkdir(exist_ok=True, mode=0o700)
        store._incoming.mkdir(exist_ok=True, mode=0o700)
        swept = files.sweep_temp_files(store._incoming)
        if swept:
            log.warning("removed %d half-written image files left by a crash in %s", swept, store._incoming)
        migrate(store.database, str(folder))
        return store

    @staticmethod
    def _make_database(path: Path, busy_timeout_s: float) -> Database:
        """SQLite in WAL mode; the encrypted store overrides this to return an SqlCipherDatabase."""
        db = SqliteDatabase(None)
        db.init(str(path), timeout=busy_timeout_s, pragmas={
            "journal_mode": "wal",  # readers (the web UI process) never block the writer
            "busy_timeout": int(busy_timeout_s * 1000),
            "synchronous": "full",  # a commit we reported survives a power cut; reads are few per second
            "foreign_keys": 1,
        })
        return db

    # -- writes (one writer thread) ------------------------------------------------------

    def add_read(self, read: Read) -> None:
        """Write the read's images durably, then its row (the order in the module docstring)."""
        self._check_open()
        row = _row_fields(read)
        if ReadRow.select(ReadRow.id).where(ReadRow.id == read.id).exists(self.database):
            raise StoreError(f"read {read.id} is already stored; each read needs a new uuid7 id")
        crop = _encode_jpeg(read.crop, "crop", 95)
        frame = _encode_jpeg(_downscale(read.frame, self.frame_max_width, "frame"), "frame", 85)
        day = row["first_seen"][:10]
        crop_rel, frame_rel = f"images/{day}/{read.id}.crop.jpg", f"images/{day}/{read.id}.frame.jpg"
        files.make_dir_durable(self._images / day)
        written: list[Path] = []
        try:
            for rel, data in ((crop_rel, crop), (frame_rel, frame)):
                files.write_atomic(self.folder / rel, data, self._incoming)
                written.append(self.folder / rel)
            with self.database.atomic():
                ReadRow.insert(**row, crop_file=crop_rel, frame_file=frame_rel,
                               stored_at=to_rfc3339(datetime.now(timezone.utc))).execute(self.database)
        except BaseException:
            for p in written:  # the row did not commit: take its files back
                files.remove_quietly(p)
            raise

    # -- reads (any thread, any process) -------------------------------------------------

    def latest_reads(self, limit: int = 50) -> list[StoredRead]:
        """The most recent reads by last_seen, newest first (ties broken by id, also time-ordered)."""
        self._check_open()
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}; got {limit!r}")
        q = ReadRow.select().order_by(ReadRow.last_seen.desc(), ReadRow.id.desc()).limit(limit)
        return [_stored(r) for r in q.bind(self.database)]

    def get_read(self, read_id: str) -> StoredRead | None:
        """The read with this id, or None."""
        row = self._row(read_id)
        return None if row is None else _stored(row)

    def image_path(self, read_id: str, kind: Literal["crop", "frame"]) -> Path | None:
        """Where the read's crop or frame JPEG is, or None when there is no such read."""
        if kind not in IMAGE_KINDS:
            raise ValueError(f"image kind must be one of {', '.join(IMAGE_KINDS)}; got {kind!r}")
        row = self._row(read_id)
        if row is None:
            return None
        return self.folder / (row.crop_file if kind == "crop" else row.frame_file)

    def count(self) -> int:
        """How many reads are stored."""
        self._check_open()
        return ReadRow.select().count(self.database)

    # -- connections -------------------------------------------------------------------

    def connect(self) -> None:
        """Open this thread's connection now (queries also open it on demand)."""
        self._check_open()
        self.database.connect(reuse_if_open=True)

    def disconnect(self) -> None:
        """Close this thread's connection, if open; the store stays usable."""
        if not self.database.is_closed():
            self.database.close()

    def close(self) -> None:
        """Close this thread's connection and refuse further use of this Store object."""
        self.disconnect()
        self._closed = True

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store at {self.folder} is closed; open it again with Store.open")

    def _row(self, read_id: str) -> ReadRow | None:
        self._check_open()
        return ReadRow.select().where(ReadRow.id == read_id).bind(self.database).first()


def _row_fields(read: Read) -> dict:
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


def _stored(r: ReadRow) -> StoredRead:
    return StoredRead(
        id=r.id, device_id=r.device_id, camera_id=r.camera_id, text=r.text, confidence=r.confidence,
        char_confidences=tuple(json.loads(r.char_confidences)),
        alternatives=tuple(Alternative(a["text"], a["score"]) for a in json.loads(r.alternatives)),
        first_seen=from_rfc3339(r.first_seen), last_seen=from_rfc3339(r.last_seen),
        clock_synced=bool(r.clock_synced), box=(r.box_x, r.box_y, r.box_w, r.box_h),
        direction=r.direction, frames_seen=r.frames_seen, stored_at=from_rfc3339(r.stored_at))


def _check_image(img: np.ndarray, what: str) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3) or img.size == 0 \
            or (img.ndim == 3 and img.shape[2] not in (1, 3)):
        shape = getattr(img, "shape", None)
        dtype = getattr(img, "dtype", type(img).__name__)
        raise ImageError(f"read.{what} must be a non-empty BGR or grayscale uint8 array; got shape {shape}, {dtype}")


def _downscale(img: np.ndarray, max_width: int, what: str) -> np.ndarray:
    """Shrink to `max_width` keeping the aspect ratio; a frame already that small is kept as is."""
    _check_image(img, what)
    h, w = img.shape[:2]
    if w <= max_width:
        return img
    return cv2.resize(img, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)


def _encode_jpeg(img: np.ndarray, what: str, quality: int) -> bytes:
    _check_image(img, what)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageError(f"read.{what} could not be encoded as JPEG (shape {img.shape})")
    return buf.tobytes()
