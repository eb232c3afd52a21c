"""Debouncing in our own code, because gpiozero's mock pins ignore `bounce_time` and
Jetson.GPIO's `bouncetime` only applies to edge callbacks: one implementation, tested."""

from __future__ import annotations


class Debouncer:
    """Accepts a new input level only after it has held for `hold` seconds.

    Feed it raw samples (`feed`) whenever the pin is read or an edge arrives, and call
    `settle` on each tick: it returns the new stable level once, when it changes.
    `initial` is the level assumed before any sample (None: the first stable level is
    reported as a change, so a door already open at boot is not missed).
    """

    def __init__(self, hold: float, initial: bool | None = None) -> None:
        if not isinstance(hold, (int, float)) or isinstance(hold, bool) or hold < 0:
            raise ValueError(f"debounce hold must be a number of seconds >= 0; got {hold!r}")
        self.hold = float(hold)
        self.stable = initial
        self._raw: bool | None = None
        self._since = 0.0

    def feed(self, raw: bool, now: float) -> None:
        """Record the raw level seen at `now`."""
        raw = bool(raw)
        if raw != self._raw:
            self._raw, self._since = raw, now

    def settle(self, now: float) -> bool | None:
        """The new stable level if it changed (held for `hold` s by `now`), else None."""
        if self._raw is None or self._raw == self.stable or now - self._since < self.hold:
            return None
        self.stable = self._raw
        return self.stable
