"""Periodic: the one way a worker thread runs a job every few seconds until stopped.

Every background job on the device (heartbeat, hotlist sync, alert watch, edge health,
health mark, the IO board's update, the systemd watchdog) is the same loop: call `tick()`,
wait `interval_s` on a stop Event, again. Written once here so each job is just its tick;
an exception from a tick is logged with the worker's name and the loop goes on (a store
or sensor error must never end a worker silently). It lives under firmware/ because
firmware never depends on the appliance layer; the appliance layer may use it.

A Periodic runs once: `start()` a second time raises RuntimeError (make a new one to run
again). `stop()` sets the Event, so a wait ends at once; a tick in progress finishes first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls `tick()` on a named daemon thread every `interval_s` seconds until `stop()`.

    The first tick comes at once, or after `first_delay_s` (a stop during that delay means
    no tick); `on_exit` runs on the worker thread as it ends, e.g. to close that thread's
    store connection.
    """

    def __init__(self, name: str, tick: Callable[[], object], interval_s: float, *, first_delay_s: float = 0.0,
                 on_exit: Callable[[], object] | None = None) -> None:
        if isinstance(interval_s, bool) or not isinstance(interval_s, (int, float)) or interval_s <= 0:
            raise ValueError(f"worker {name!r}: interval_s must be a number of seconds above 0; got {interval_s!r}")
        if isinstance(first_delay_s, bool) or not isinstance(first_delay_s, (int, float)) or first_delay_s < 0:
            raise ValueError(f"worker {name!r}: first_delay_s must be a number of seconds, 0 or more; "
                             f"got {first_delay_s!r}")
        self.name, self.interval_s, self.first_delay_s = name, float(interval_s), float(first_delay_s)
        self._tick, self._on_exit = tick, on_exit
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the worker thread lives (started and not yet ended)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread; a Periodic runs once, so a second start is refused."""
        if self._thread is not None:
            raise RuntimeError(f"worker {self.name!r} was already started; a Periodic runs once, make a new one")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 2.0) -> bool:
        """Ask the thread to end and wait up to `timeout` seconds; True when it has ended (or never started)."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            if self.first_delay_s and self._stop.wait(self.first_delay_s):
                return
            while True:
                try:
                    self._tick()
                except Exception:  # logged, and the next tick tries again: a worker never dies of one failure
                    log.exception("worker %r: tick failed; the next follows in %g s", self.name, self.interval_s)
                if self._stop.wait(self.interval_s):
                    return
        finally:
            if self._on_exit is not None:
                self._on_exit()
