"""The accuracy report (POLICY HL-4): how often alerts were misreads or stale entries, per list and per look-alike pair.

Pure functions over Alerts (records.alerts_between gives them): no store, no clock. A
list whose alerts are often "stale entry" needs a fresher source; a look-alike pair
(read character / list character, e.g. 0/O) whose alerts are often "misread" says the
reader or a clerk confuses those two, and whether a list should match exactly. Open
alerts count in `alerts` but not in any outcome; rates are over acknowledged alerts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from appliance.alerts.model import OUTCOMES, Alert
from appliance.csv_cells import spreadsheet_safe

__all__ = ["Tally", "AccuracyReport", "accuracy", "lookalike_pairs", "to_csv"]


@dataclass
class Tally:
    """Alerts of one group, by outcome."""

    alerts: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def acknowledged(self) -> int:
        return sum(self.outcomes.values())

    def rate(self, outcome: str) -> float | None:
        """Share of acknowledged alerts with `outcome` (None when none was acknowledged)."""
        return self.outcomes[outcome] / self.acknowledged if self.acknowledged else None

    def add(self, alert: Alert) -> None:
        self.alerts += 1
        if alert.outcome in self.outcomes:
            self.outcomes[alert.outcome] += 1


@dataclass
class AccuracyReport:
    """Totals, per list (by name), per look-alike pair ("0/O": read 0 where the list has O), per kind."""

    total: Tally
    lists: dict[str, Tally]
    pairs: dict[str, Tally]
    kinds: dict[str, Tally]


def lookalike_pairs(alert: Alert) -> list[str]:
    """The swapped characters of a look-alike or alternative hit, as "read/listed" (e.g. "0/O")."""
    return [f"{alert.read_text[i]}/{alert.matched_text[i]}" for i in alert.substituted
            if i < len(alert.read_text) and i < len(alert.matched_text)]


def accuracy(alerts: Iterable[Alert]) -> AccuracyReport:
    """Tally alerts by outcome overall, per list, per look-alike pair and per match kind."""
    report = AccuracyReport(Tally(), {}, {}, {})
    for a in alerts:
        report.total.add(a)
        report.lists.setdefault(a.hotlist.name, Tally()).add(a)
        report.kinds.setdefault(a.kind, Tally()).add(a)
        for pair in set(lookalike_pairs(a)):
            report.pairs.setdefault(pair, Tally()).add(a)
    return report


def to_csv(report: AccuracyReport) -> str:
    """One row per group: group type, name, alerts, acknowledged, each outcome, misread and stale rates."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["group", "name", "alerts", "acknowledged", *OUTCOMES, "misread_rate", "stale_rate"])
    rows = [("total", "all", report.total)] + [("list", k, v) for k, v in sorted(report.lists.items())] \
        + [("lookalike_pair", k, v) for k, v in sorted(report.pairs.items())] \
        + [("kind", k, v) for k, v in sorted(report.kinds.items())]
    for group, name, t in rows:
        w.writerow([group, spreadsheet_safe(name), t.alerts, t.acknowledged, *(t.outcomes[o] for o in OUTCOMES),
                    _pct(t.rate("misread")), _pct(t.rate("stale_entry"))])
    return out.getvalue()


def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"
