"""IoBoard: the Outputs and Inputs the appliance uses, built on any backend's pins.

All timing is computed from an injectable clock in `update()`: the LED level from the
pattern's phase, the relay from its deadline, inputs from their debouncers. A named
worker thread calls `update()` every `tick` seconds (`start()`/`stop()`); tests call it
themselves after advancing a ManualClock, so nothing sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from firmware.camera.clock import Clock, SystemClock
from firmware.io.base import (
    InputPin,
    IoConfigError,
    IoPins,
    LedPattern,
    OutputPin,
    PinDriver,
    TamperEvent,
    TriggerEvent,
)
from firmware.io.debounce import Debouncer
from firmware.periodic import Periodic

log = logging.getLogger(__name__)


class IoBoard:
    """Outputs + Inputs over `driver`'s pins.

    `tamper_open_high`: the door reads high when open (a normally-closed switch to ground
    with the pull-up on: a cut wire also reads "open", which is what a tamper switch
    wants). `trigger_active_high`: the loop detector's relay closes to ground by default,
    so it is active low. `burst_frames`/`burst_seconds` go into every TriggerEvent.
    """

    def __init__(self, driver: PinDriver, pins: IoPins, *, clock: Clock | None = None,
                 debounce: float = 0.05, tamper_open_high: bool = True,
                 trigger_active_high: bool = False, burst_frames: int = 10,
                 burst_seconds: float = 1.0, tick: float = 0.01) -> None:
        self.pins = pins.check()
        if not (isinstance(burst_frames, int) and burst_frames > 0 and burst_seconds > 0):
            raise IoConfigError("trigger burst needs burst_frames >= 1 and burst_seconds > 0; "
                                f"got {burst_frames!r} and {burst_seconds!r}")
        self.driver = driver
        self.clock: Clock = clock or SystemClock()
        self.tick = tick
        self.tamper_open_high, self.trigger_active_high = tamper_open_high, trigger_active_high
        self.burst_frames, self.burst_seconds = burst_frames, float(burst_seconds)
        self._lock = threading.RLock()
        self._illuminator = self._out(pins.ir_illuminator, pwm=True)
        self._led = self._out(pins.status_led, pwm=False)
        self._relay = self._out(pins.alert_relay, pwm=False)
        self._ir_cut = self._out(pins.ir_cut, pwm=False)
        self.illuminator_level = 0.0
        self.ir_cut_inserted: bool | None = None  # unknown until first set
        # The tamper switch starts "unknown" so a door already open at boot is reported.
        self._tamper = self._in(pins.tamper_switch, pull_up=True)
        self._trigger = self._in(pins.loop_detector, pull_up=not trigger_active_high)
        self._tamper_db = Debouncer(debounce, initial=None)
        self._trigger_db = Debouncer(debounce, initial=None)
        self._tamper_cbs: list[Callable[[TamperEvent], None]] = []
        self._trigger_cbs: list[Callable[[TriggerEvent], None]] = []
        self._pattern, self._pattern_start = LedPattern.OFF, self.clock.monotonic()
        self._led_level: float | None = None
        self._relay_until: float | None = None
        self._door_open: bool | None = None
        self._worker: Periodic | None = None

    # -- Outputs -------------------------------------------------------------------
    def set_illuminator(self, level: float) -> None:
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 <= level <= 1:
            raise IoConfigError(f"illuminator level must be a number from 0.0 to 1.0; got {level!r}")
        self.illuminator_level = float(level)
        if self._illuminator is not None:
            with self._lock:
                self._illuminator.set(float(level))

    def set_ir_cut(self, inserted: bool) -> None:
        if not isinstance(inserted, bool):
            raise IoConfigError(f"IR-cut filter state must be True (in) or False (out); got {inserted!r}")
        self.ir_cut_inserted = inserted
        if self._ir_cut is not None:
            with self._lock:
                self._ir_cut.set(1.0 if inserted else 0.0)

    def set_led(self, pattern: LedPattern) -> None:
        if not isinstance(pattern, LedPattern):
            raise IoConfigError(f"LED pattern must be one of {', '.join(p.name for p in LedPattern)}; got {pattern!r}")
        with self._lock:
            if pattern is not self._pattern:
                self._pattern, self._pattern_start = pattern, self.clock.monotonic()
                self._update_led(self._pattern_start)

    @property
    def led_pattern(self) -> LedPattern:
        return self._pattern

    def pulse_relay(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 600:
            raise IoConfigError(f"relay pulse must last more than 0 and at most 600 seconds; got {seconds!r}")
        if self._relay is None:
            log.debug("relay pulse asked, but no alert relay is fitted")
            return
        with self._lock:
            until = self.clock.monotonic() + seconds
            self._relay_until = max(until, self._relay_until or until)
            self._relay.set(1.0)

    @property
    def relay_closed(self) -> bool:
        return self._relay_until is not None

    # -- Inputs --------------------------------------------------------------------
    def on_tamper(self, callback: Callable[[TamperEvent], None]) -> None:
        self._tamper_cbs.append(callback)

    def on_trigger(self, callback: Callable[[TriggerEvent], None]) -> None:
        self._trigger_cbs.append(callback)

    def door_open(self) -> bool | None:
        return self._door_open

    # -- time ----------------------------------------------------------------------
    def update(self) -> None:
        """Bring outputs and inputs up to the clock's now; the worker calls this every tick."""
        with self._lock:
            now = self.clock.monotonic()
            if self._relay_until is not None and now >= self._relay_until:
                self._relay_until = None
                self._relay.set(0.0)  # type: ignore[union-attr]
            self._update_led(now)
            tamper = self._sample(self._tamper, self._tamper_db, now)
            trigger = self._sample(self._trigger, self._trigger_db, now)
        if tamper is not None:  # callbacks run outside the lock: they may set the LED
            was, self._door_open = self._door_open, tamper == self.tamper_open_high
            if self._door_open or was is not None:  # a door closed at boot is no event
                self._emit(self._tamper_cbs,
                           TamperEvent(self._door_open, now, self.clock.utc(), self.clock.synced()))
        if trigger is not None and trigger == self.trigger_active_high:
            self._emit(self._trigger_cbs, TriggerEvent(now, self.clock.utc(), self.clock.synced(),
                                                       self.burst_frames, self.burst_seconds))

    def start(self) -> None:
        """Run `update()` every `tick` seconds on a named daemon thread."""
        if self._worker is not None:
            return
        # waits a tick first; a broken callback is logged and must not stop the LED or the relay timer
        self._worker = Periodic("io", self.update, self.tick, first_delay_s=self.tick)
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker; outputs keep their last level until `close()`."""
        if self._worker is not None:
            self._worker.stop(timeout=2)
            self._worker = None

    def close(self) -> None:
        """Stop, switch every output off and release the pins."""
        self.stop()
        with self._lock:
            for out in (self._illuminator, self._led, self._relay, self._ir_cut):
                if out is not None:
                    out.set(0.0)
            self.driver.close()

    # -- internals -----------------------------------------------------------------
    def _update_led(self, now: float) -> None:
        if self._led is None:
            return
        level = self._pattern.level_at(now - self._pattern_start)
        if level != self._led_level:
            self._led_level = level
            self._led.set(level)

    @staticmethod
    def _sample(pin: InputPin | None, db: Debouncer, now: float) -> bool | None:
        if pin is None:
            return None
        db.feed(pin.read(), now)
        return db.settle(now)

    @staticmethod
    def _emit(callbacks: list, event: object) -> None:
        for cb in callbacks:
            try:
                cb(event)
            except Exception:
                log.exception("io callback %r failed on %s", cb, type(event).__name__)

    def _out(self, pin: int | None, *, pwm: bool) -> OutputPin | None:
        return None if pin is None else self.driver.output(pin, pwm=pwm)

    def _in(self, pin: int | None, *, pull_up: bool) -> InputPin | None:
        return None if pin is None else self.driver.input(pin, pull_up=pull_up)
