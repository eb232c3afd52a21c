"""The Alert: one Hit of one stored read, with copies of the entry and list as they were when it fired.

Copies, not references: an import may change or remove the entry an hour later, and the
officer (and the accuracy report) must still see what the alert was raised on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.errors import AlprError
from appliance.hotlists.model import Entry, Hit, Hotlist, to_rfc3339

__all__ = ["Alert", "AlertError", "OUTCOMES", "STALE_AFTER", "NOTICE"]

OUTCOMES = ("confirmed", "misread", "stale_entry", "not_located")  # misread, stale_entry: accuracy report (HL-4)
STALE_AFTER = timedelta(hours=24)  # POLICY HL-2: warn when the list is older
NOTICE = "An alert is not a confirmation: verify visually and through CLETS before enforcement"  # HL-3


class AlertError(AlprError, ValueError):
    """An acknowledgement that cannot be recorded; the message says what is allowed."""


@dataclass(frozen=True, slots=True)
class Alert:
    """A hit on a stored read; open until acknowledged with an outcome."""

    id: str
    seq: int
    read_id: str
    kind: str
    read_text: str
    matched_text: str
    substituted: tuple[int, ...]
    uncertain: tuple[int, ...]
    score: float
    entry: Entry
    hotlist: Hotlist
    created_at: datetime
    retrospective: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    outcome: str | None = None
    note: str = ""
    seen_at: datetime | None = None  # when the read saw the car (None: as created_at; older alerts)
    repeats: int = 0  # later hits of the same entry by the same plate, suppressed (records.py)
    last_repeat_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def last_hit_at(self) -> datetime:
        """The latest sighting of this alert's plate: the suppression window runs from here.

        Sightings, not alert times: a retrospective alert raised now on a read of three days
        ago must not swallow the car passing again in the next minutes.
        """
        return max(t for t in (self.seen_at or self.created_at, self.last_repeat_at) if t is not None)

    def seen_ago(self, now: datetime) -> timedelta:
        """How long ago the car was seen ("seen 3 days ago" on a retrospective alert)."""
        return now - (self.seen_at or self.created_at)

    @classmethod
    def of_hit(cls, alert_id: str, seq: int, hit: Hit, created_at: datetime, *, retrospective: bool = False,
               seen_at: datetime | None = None) -> Alert:
        return cls(alert_id, seq, hit.read_id, hit.kind, hit.read_text, hit.matched_text, tuple(hit.substituted),
                   tuple(hit.uncertain), float(hit.score), hit.entry, hit.hotlist, created_at,
                   retrospective=retrospective, seen_at=seen_at)

    def text_marks(self) -> list[tuple[str, bool]]:
        """Each character of the read's text and whether to mark it (uncertain or swapped for the match)."""
        marked = set(self.uncertain) | set(self.substituted)
        return [(c, i in marked) for i, c in enumerate(self.read_text)]

    def to_item(self) -> dict:
        """What the hub receives (outbox body): the hit, the entry and list copies, no images."""
        return {"read_id": self.read_id, "kind": self.kind, "read_text": self.read_text,
                "matched_text": self.matched_text, "substituted": list(self.substituted),
                "uncertain": list(self.uncertain), "score": round(self.score, 6), "entry": self.entry.to_dict(),
                "hotlist": self.hotlist.to_dict(), "retrospective": self.retrospective,
                "created_at": to_rfc3339(self.created_at),
                "seen_at": to_rfc3339(self.seen_at or self.created_at)}
