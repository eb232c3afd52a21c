"""Day/night switching: IR-cut filter and illuminator follow the scene's brightness.

Plates are retro-reflective: at night an 850 nm illuminator with the IR-cut filter out
gives a bright plate on a dark scene, by day the filter goes in and the illuminator off.
The decision uses the median brightness of recent frames (a few headlight frames do
not move it) with hysteresis and a minimum hold
time, so dusk, headlights or a passing truck do not make it flap. Outputs are passed in:
`set_illuminator(level)` (firmware.io Outputs) and an optional `set_ir_cut(inserted)` (a
GPIO-driven filter or the camera's own control).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)


def set_night_mode(set_illuminator: Callable[[float], None], set_ir_cut: Callable[[bool], None] | None,
                   night: bool, illuminator_level: float = 1.0) -> None:
    """Night: IR-cut filter out, so the illuminator's IR reaches the sensor, and the illuminator on.
    Day: filter in, illuminator off. The one place both outputs are switched together."""
    if set_ir_cut is not None:
        set_ir_cut(not night)
    set_illuminator(illuminator_level if night else 0.0)


class DayNight:
    """Decides day or night from frame brightness and drives the illuminator and IR-cut filter."""

    def __init__(self, set_illuminator: Callable[[float], None],
                 set_ir_cut: Callable[[bool], None] | None = None, *,
                 night_below: float = 40.0, day_above: float = 90.0, window: int = 30,
                 hold_s: float = 60.0, illuminator_level: float = 1.0) -> None:
        if not 0 <= night_below < day_above <= 255:
            raise ValueError(f"need 0 <= night_below < day_above <= 255 (mean grey levels); got {night_below}, {day_above}")
        if window < 1 or hold_s < 0 or not 0 < illuminator_level <= 1:
            raise ValueError("window must be >= 1 frame, hold_s >= 0 and illuminator_level in (0, 1]")
        self.set_illuminator, self.set_ir_cut = set_illuminator, set_ir_cut
        self.night_below, self.day_above, self.hold_s = night_below, day_above, hold_s
        self.illuminator_level = illuminator_level
        self._levels: deque[float] = deque(maxlen=window)
        self.night: bool | None = None  # unknown until the window has filled once
        self._since: float | None = None

    @staticmethod
    def brightness(image: np.ndarray) -> float:
        """Mean grey level of a BGR frame, on a 4x subsample (cheap at 1080p)."""
        return float(image[::4, ::4].mean())

    def observe(self, image: np.ndarray, now: float) -> bool | None:
        """Feed one frame (monotonic `now`); switch when the median crosses a threshold and the hold passed."""
        self._levels.append(self.brightness(image))
        if len(self._levels) < self._levels.maxlen:
            return self.night
        mean = float(np.median(self._levels))  # the window's median: robust to headlights
        want = True if mean < self.night_below else False if mean > self.day_above else self.night
        if want is None or want == self.night:
            return self.night
        if self.night is not None and self._since is not None and now - self._since < self.hold_s:
            return self.night
        self._switch(want, now, mean)
        return self.night

    def _switch(self, night: bool, now: float, mean: float) -> None:
        log.info("switching to %s mode (mean brightness %.0f)", "night" if night else "day", mean)
        set_night_mode(self.set_illuminator, self.set_ir_cut, night, self.illuminator_level)
        self.night, self._since = night, now
