"""AlertSink: an alert at the pole, through the firmware IO outputs (relay pulse, LED ALERT pattern).

The relay drives whatever the agency wired to it (a beacon, a radio's input); the LED
flashes the ALERT pattern until `clear()` puts the running pattern back: `settle(n)` does
that when no alert is open any more (watch.AlertWatch counts them in the store, since the
acknowledgement happens in the web UI's process). Timing lives in firmware.io.IoBoard, so the
sink only says what to do; a broken output is logged, never allowed to lose the alert.
"""

from __future__ import annotations

import logging

from firmware.io import IoConfigError, LedPattern, Outputs

__all__ = ["AlertSink"]

log = logging.getLogger(__name__)


class AlertSink:
    """Called with each new Alert on the writer thread, after the alert is stored."""

    def __init__(self, outputs: Outputs, *, pulse_s: float = 2.0, resting: LedPattern = LedPattern.RUNNING) -> None:
        if isinstance(pulse_s, bool) or not isinstance(pulse_s, (int, float)) or not 0 < pulse_s <= 600:
            raise IoConfigError(f"alert relay pulse_s must be more than 0 and at most 600 seconds; got {pulse_s!r}")
        self.outputs = outputs
        self.pulse_s = float(pulse_s)
        self.resting = resting
        self.raised = 0  # alerts signalled since start (the health page may show it)
        self.showing = False  # the LED is on the ALERT pattern

    def __call__(self, alert) -> None:
        try:
            self.outputs.pulse_relay(self.pulse_s)
            self.outputs.set_led(LedPattern.ALERT)
            self.showing = True
            self.raised += 1
        except Exception:  # the alert is stored and queued for the hub already; the UI still shows it
            log.exception("could not signal alert %s on the outputs", getattr(alert, "id", "?"))

    def clear(self) -> None:
        """Every alert was acknowledged: the LED goes back to its resting pattern."""
        self.outputs.set_led(self.resting)
        self.showing = False

    def settle(self, open_alerts: int) -> None:
        """Leave the ALERT pattern once `open_alerts` is 0; keep it while any alert is open."""
        if self.showing and open_alerts == 0:
            try:
                self.clear()
                log.info("last open alert acknowledged: status LED back to %s", self.resting.name)
            except Exception:
                log.exception("could not put the status LED back to %s", self.resting.name)
