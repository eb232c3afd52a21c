"""The tracker: per-frame plate sightings in, one Read per vehicle pass out.

Pure logic: no threads, no I/O, no clock of its own. Time comes from the frames'
monotonic stamps, and from `tick(now)` when no frames arrive, so the pipeline decides
when to call it and the tests drive it with a fake clock.

A sighting joins an open track when its text is close to the track's (a confusable
swap such as O/0 costs a quarter of an edit, so one misread frame does not split a
pass) or when its box sits where the track's constant-velocity prediction puts the plate
and its text is at least loosely similar (so two cars side by side, whose plates differ,
stay apart). Pairs are matched greedily, best combined score first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np

from appliance.ids import uuid7
from appliance.recognition.confusables import partners
from appliance.types import Alternative, Frame, Plate, Read

__all__ = ["Tracker", "text_similarity", "iou", "direction_of_travel"]

log = logging.getLogger(__name__)

CONFUSABLE_COST = 0.25  # a look-alike swap is a quarter of an edit: O/0 is the reader's doubt, not a new plate
STRONG_TEXT = 0.75  # this similar joins a track wherever the box is (fast cars jump across the image)
MIN_TEXT = 0.3  # below this no motion evidence is enough: the plate is someone else's
MIN_SCORE = 1.1  # text + motion needed when the text alone is not strong
NEAR_WIDTHS = 2.0  # centre distance (in plate widths) at which motion similarity reaches 0
STATIONARY_WIDTHS = 0.5  # less first-to-last movement than this (in plate widths) is "stationary"
CROP_MARGIN = 0.1  # crop grows by this share of the box on every side
MAX_ALTERNATIVES = 8
MATCH_TEXTS = 3  # a track is compared by its top-voted texts plus its latest one
MAX_PICTURES = 8  # texts per window that keep a crop and frame: a noisy parked car must not hoard memory


def text_similarity(a: str, b: str) -> float:
    """1 - edit distance / longer length, where a confusable swap (O/0, 8/B, ...) costs 0.25."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        near = partners(ca)
        cur = [float(i)]
        for j, cb in enumerate(b, 1):
            sub = 0.0 if ca == cb else CONFUSABLE_COST if cb in near else 1.0
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub))
        prev = cur
    return max(0.0, 1.0 - prev[-1] / max(len(a), len(b)))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _centre(box: tuple[float, ...]) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def direction_of_travel(first: tuple[float, float], last: tuple[float, float], plate_width: float,
                        frames: int) -> str:
    """Image direction from the first to the last centre, judged against the plate's width."""
    if frames < 2:
        return "unknown"
    dx, dy = last[0] - first[0], last[1] - first[1]
    if max(abs(dx), abs(dy)) < STATIONARY_WIDTHS * max(plate_width, 1.0):
        return "stationary"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


@dataclass
class _Candidate:
    """One text seen in a window: its votes and the evidence of its best sighting."""

    text: str
    weight: float = 0.0  # summed plate confidence: the confidence-weighted vote
    count: int = 0
    best_confidence: float = -1.0
    best_plate: Plate | None = None  # with crop and small: None once evicted (MAX_PICTURES)
    crop: np.ndarray | None = None  # cut when the sighting became the best, so frames are not kept
    small: np.ndarray | None = None
    picture_confidence: float = -1.0  # confidence of the sighting the pictures show


@dataclass
class _Window:
    """The sightings one Read will summarise (a whole pass, or one re-read period)."""

    camera_id: str
    first_mono: float
    first_utc: datetime
    last_utc: datetime
    first_centre: tuple[float, float]
    last_centre: tuple[float, float] = (0.0, 0.0)
    synced: bool = True
    frames: int = 0
    width_sum: float = 0.0
    candidates: dict[str, _Candidate] = field(default_factory=dict)
    # per text length, per position: char -> [summed char confidence, best char confidence]
    positions: dict[int, list[dict[str, list[float]]]] = field(default_factory=dict)
    length_counts: dict[int, int] = field(default_factory=dict)


@dataclass
class _Track:
    camera_id: str
    window: _Window | None  # None between a re-read and the next sighting
    last_mono: float
    last_box: tuple[int, int, int, int]
    last_text: str
    velocity: tuple[float, float] = (0.0, 0.0)  # centre pixels per second

    def predicted(self, now: float) -> tuple[float, float, float, float]:
        dt = now - self.last_mono
        x, y, w, h = self.last_box
        return x + self.velocity[0] * dt, y + self.velocity[1] * dt, w, h

    def texts(self) -> set[str]:
        top = sorted(self.window.candidates.values(), key=lambda c: -c.weight)[:MATCH_TEXTS] if self.window else []
        return {c.text for c in top} | {self.last_text}


class Tracker:
    """Groups plates across frames into tracks and emits one Read per pass (and per re-read).

    A track ends when its plate has been unseen for `max_gap_s`. A track still open after
    `reread_interval_s` (a parked car) emits a Read then and starts a fresh one, so a car
    parked all day gives one Read per interval, not one per frame (0 turns this off).
    A track seen in fewer than `min_frames` frames is kept only if its confidence reaches
    `min_confidence`: one or two doubtful sightings are mostly signs, reflections or plates
    too far away to read, while a fast car read clearly in a single frame is a real pass.
    """

    def __init__(self, device_id: str, *, max_gap_s: float = 1.5, reread_interval_s: float = 300.0,
                 min_frames: int = 2, min_confidence: float = 0.6, frame_max_width: int = 640) -> None:
        checks = [("max_gap_s", max_gap_s, max_gap_s > 0, "a number of seconds above 0"),
                  ("reread_interval_s", reread_interval_s, reread_interval_s >= 0,
                   "seconds >= 0 (0 turns re-reads off)"),
                  ("min_frames", min_frames, isinstance(min_frames, int) and min_frames >= 1, "an integer >= 1"),
                  ("min_confidence", min_confidence, 0 <= min_confidence <= 1, "a number from 0 to 1"),
                  ("frame_max_width", frame_max_width, isinstance(frame_max_width, int) and frame_max_width >= 16,
                   "an integer number of pixels >= 16")]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ValueError(f"tracker {name} must be {allowed}; got {value!r}")
        if not device_id:
            raise ValueError("tracker device_id must be a non-empty string")
        self.device_id = device_id
        self.max_gap_s = float(max_gap_s)
        self.reread_interval_s = float(reread_interval_s)
        self.min_frames = min_frames
        self.min_confidence = float(min_confidence)
        self.frame_max_width = frame_max_width
        self._tracks: list[_Track] = []
        self._clock: dict[str, float] = {}  # latest monotonic per camera

    @property
    def open_tracks(self) -> int:
        """How many passes are in progress (for health pages and tests)."""
        return len(self._tracks)

    def update(self, frame: Frame, plates: list[Plate]) -> list[Read]:
        """Add one frame's plates (in time order per camera); return the Reads this completes."""
        now, cam = frame.monotonic, frame.camera_id
        out: list[Read] = []
        if cam in self._clock and now < self._clock[cam]:
            # A replay looping or a camera restarting: its old tracks cannot continue.
            log.warning("camera %s time went back %.3f s; ending its %d open tracks", cam,
                        self._clock[cam] - now, sum(t.camera_id == cam for t in self._tracks))
            out += self._end([t for t in self._tracks if t.camera_id == cam])
        self._clock[cam] = now
        out += self._end([t for t in self._tracks if t.camera_id == cam and now - t.last_mono > self.max_gap_s])
        for plate in plates:
            if plate.box[2] <= 0 or plate.box[3] <= 0:
                raise ValueError(f"plate box must have positive width and height; got {plate.box}")
        plates = [p for p in plates if p.text]  # an illegible plate has nothing to vote with
        for track, plate in self._associate(frame, plates):
            if track is None:
                track = _Track(cam, self._new_window(frame, plate), now, plate.box, plate.text)
                self._tracks.append(track)
            else:
                self._follow(track, frame, plate)
            window = track.window
            assert window is not None
            self._add(window, frame, plate)
            if self.reread_interval_s and now - window.first_mono >= self.reread_interval_s:
                out += self._emit(window)  # a parked car: read it now, then once per interval
                track.window = None  # opened again by the next sighting
        return out

    def tick(self, now_monotonic: float) -> list[Read]:
        """End tracks unseen for more than max_gap_s at this time, with or without frames."""
        return self._end([t for t in self._tracks if now_monotonic - t.last_mono > self.max_gap_s])

    def flush(self) -> list[Read]:
        """End every open track (at shutdown) and return their Reads."""
        return self._end(list(self._tracks))

    # -- association -------------------------------------------------------------------

    def _associate(self, frame: Frame, plates: list[Plate]) -> list[tuple[_Track | None, Plate]]:
        """Greedy matching by best score; plates left over start new tracks."""
        tracks = [t for t in self._tracks if t.camera_id == frame.camera_id]
        pairs = []
        for ti, track in enumerate(tracks):
            pred = track.predicted(frame.monotonic)
            texts = track.texts()
            for pi, plate in enumerate(plates):
                text = max(text_similarity(t, plate.text) for t in texts)
                motion = _motion_similarity(pred, plate.box)
                if text >= STRONG_TEXT or (text >= MIN_TEXT and text + motion >= MIN_SCORE):
                    pairs.append((text + motion, ti, pi))
        pairs.sort(key=lambda p: -p[0])
        used_t: set[int] = set()
        matched: dict[int, _Track] = {}
        for _, ti, pi in pairs:
            if ti not in used_t and pi not in matched:
                used_t.add(ti)
                matched[pi] = tracks[ti]
        return [(matched.get(pi), p) for pi, p in enumerate(plates)]

    def _follow(self, track: _Track, frame: Frame, plate: Plate) -> None:
        dt = frame.monotonic - track.last_mono
        if dt > 0:
            (x0, y0), (x1, y1) = _centre(track.last_box), _centre(plate.box)
            track.velocity = ((x1 - x0) / dt, (y1 - y0) / dt)
        track.last_mono, track.last_box, track.last_text = frame.monotonic, plate.box, plate.text
        if track.window is None:
            track.window = self._new_window(frame, plate)

    # -- accumulation ------------------------------------------------------------------

    @staticmethod
    def _new_window(frame: Frame, plate: Plate) -> _Window:
        return _Window(frame.camera_id, frame.monotonic, frame.utc, frame.utc, _centre(plate.box))

    def _add(self, w: _Window, frame: Frame, plate: Plate) -> None:
        w.frames += 1
        w.last_utc, w.last_centre = frame.utc, _centre(plate.box)
        w.synced = w.synced and frame.clock_synced
        w.width_sum += plate.box[2]
        c = w.candidates.setdefault(plate.text, _Candidate(plate.text))
        c.weight += plate.confidence
        c.count += 1
        c.best_confidence = max(c.best_confidence, plate.confidence)
        if plate.confidence > c.picture_confidence:
            c.picture_confidence, c.best_plate = plate.confidence, plate
            c.crop, c.small = _crop(frame.image, plate.box), _downscale(frame.image, self.frame_max_width)
            pictured = [k for k in w.candidates.values() if k.crop is not None]
            if len(pictured) > MAX_PICTURES:  # forget the least-voted text's pictures
                k = min(pictured, key=lambda k: (k.weight, k.picture_confidence))
                k.best_plate = k.crop = k.small = None
                k.picture_confidence = -1.0
        n = len(plate.text)
        w.length_counts[n] = w.length_counts.get(n, 0) + 1
        slots = w.positions.setdefault(n, [{} for _ in range(n)])
        for i, (ch, conf) in enumerate(zip(plate.text, _char_confidences(plate))):
            s = slots[i].setdefault(ch, [0.0, 0.0])
            s[0] += conf
            s[1] = max(s[1], conf)

    # -- conclusion --------------------------------------------------------------------

    def _end(self, tracks: list[_Track]) -> list[Read]:
        out: list[Read] = []
        for t in sorted(tracks, key=lambda t: t.window.first_mono if t.window else t.last_mono):
            self._tracks.remove(t)
            if t.window is not None:
                out += self._emit(t.window)
        return out

    def _emit(self, w: _Window) -> list[Read]:
        """The window's Read, or nothing when it is too brief and too doubtful to trust."""
        text, confidence, char_confs, source = _choose(w)
        if w.frames < self.min_frames and confidence < self.min_confidence:
            log.debug("dropped a %d-frame track at confidence %.2f", w.frames, confidence)
            return []
        plate = source.best_plate
        assert plate is not None and source.crop is not None and source.small is not None
        alternatives = _alternatives(w, text, plate)
        read = Read(
            id=uuid7(int(w.first_utc.timestamp() * 1000)), device_id=self.device_id,
            camera_id=w.camera_id, text=text, confidence=confidence, char_confidences=char_confs,
            alternatives=alternatives, first_seen=w.first_utc, last_seen=w.last_utc, clock_synced=w.synced,
            box=plate.box, direction=direction_of_travel(w.first_centre, w.last_centre, w.width_sum / w.frames,
                                                         w.frames),
            frames_seen=w.frames, crop=source.crop, frame=source.small)
        log.debug("read %s: %d frames, confidence %.2f", read.id, w.frames, confidence)
        return [read]


def _motion_similarity(pred: tuple[float, ...], box: tuple[int, int, int, int]) -> float:
    """1 at the predicted spot, falling to 0 at NEAR_WIDTHS plate widths away (or the IoU, if higher)."""
    (px, py), (bx, by) = _centre(pred), _centre(box)
    d = math.hypot(px - bx, py - by) / max(pred[2], box[2], 1.0)
    return max(iou(pred, box), 1.0 - d / NEAR_WIDTHS, 0.0)


def _char_confidences(plate: Plate) -> tuple[float, ...]:
    r = plate.reading
    if r is not None and len(r.char_confidences) == len(plate.text):
        return tuple(r.char_confidences)
    return (plate.confidence,) * len(plate.text)


def _choose(w: _Window) -> tuple[str, float, tuple[float, ...], _Candidate]:
    """The window's text, its confidence, per-character confidences and the sighting to show.

    Whole strings vote with their confidence (ties: more frames, then the best single
    confidence). The Read's confidence is the winner's share of all votes times its best
    single-frame confidence: a pass read the same way throughout keeps the reader's
    confidence, one whose frames disagree loses in proportion. When three or more reads of
    the winning length disagree in scattered positions, a per-position vote (weighted by
    character confidence) can give a string no single frame saw; then each character's
    confidence is its position's share times its best confidence, the Read's is the
    weakest of those, and the picture comes from the closest read.
    """
    total = sum(c.weight for c in w.candidates.values()) or 1.0
    ranked = sorted(w.candidates.values(), key=lambda c: (c.weight, c.count, c.best_confidence, c.text), reverse=True)
    top = ranked[0]
    n = len(top.text)
    if w.length_counts.get(n, 0) >= 3:
        consensus, scores = [], []
        for slot in w.positions[n]:
            ch, (weight, best) = max(slot.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))
            consensus.append(ch)
            scores.append(weight / (sum(v[0] for v in slot.values()) or 1.0) * best)
        text = "".join(consensus)
        if text != top.text:
            return text, min(scores), tuple(scores), _closest(ranked, text)
    source = top if top.best_plate is not None else _closest(ranked, top.text)
    assert source.best_plate is not None
    chars = _char_confidences(source.best_plate)
    if len(chars) != n:
        chars = (top.best_confidence,) * n
    return top.text, top.weight / total * top.best_confidence, chars, source


def _closest(ranked: list[_Candidate], text: str) -> _Candidate:
    """The pictured candidate nearest to `text` (most confident among equals): the Read's picture."""
    pictured = [c for c in ranked if c.best_plate is not None]
    return max(pictured, key=lambda c: (text_similarity(c.text, text), c.picture_confidence))


def _alternatives(w: _Window, text: str, plate: Plate) -> tuple[Alternative, ...]:
    """The other texts this pass was read as (scored like the Read), plus the reader's own alternatives."""
    total = sum(c.weight for c in w.candidates.values()) or 1.0
    best: dict[str, float] = {}
    for c in w.candidates.values():
        best[c.text] = c.weight / total * c.best_confidence
    if plate.reading is not None:
        for a in plate.reading.alternatives:
            best[a.text] = max(best.get(a.text, 0.0), a.score)
    best.pop(text, None)
    ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_ALTERNATIVES]
    return tuple(Alternative(t, s) for t, s in ranked)


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The plate with a small margin, clipped to the image, as its own copy."""
    x, y, w, h = box
    mx, my = max(2, round(w * CROP_MARGIN)), max(2, round(h * CROP_MARGIN))
    H, W = image.shape[:2]
    x0, y0 = min(max(0, x - mx), W - 1), min(max(0, y - my), H - 1)
    x1, y1 = max(min(W, x + w + mx), x0 + 1), max(min(H, y + h + my), y0 + 1)
    return image[y0:y1, x0:x1].copy()


def _downscale(image: np.ndarray, max_width: int) -> np.ndarray:
    """A copy no wider than max_width, aspect kept (INTER_AREA: averaging, no aliasing)."""
    h, w = image.shape[:2]
    if w <= max_width:
        return image.copy()
    return cv2.resize(image, (max_width, max(1, round(h * max_width / w))), interpolation=cv2.INTER_AREA)
