"""systemd's notify protocol and a watchdog that pets only while the pipeline is healthy.

With `Type=notify` and `WatchdogSec=` in the unit, systemd waits for `READY=1` and then
restarts the service when `WATCHDOG=1` stops arriving. Petting from a timer thread alone
would keep a stalled pipeline alive forever, so `Watchdog.tick()` pets only while the
health check says frames are flowing and the workers live. The protocol is a datagram
on the AF_UNIX socket in `$NOTIFY_SOCKET` (a leading '@' means the abstract namespace);
it is small enough to speak without libsystemd.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

from firmware.camera.clock import Clock, SystemClock
from firmware.periodic import Periodic

log = logging.getLogger(__name__)

HealthCheck = Callable[[], str | None]  # None = healthy, else why not


class Notifier:
    """Sends sd_notify messages; does nothing (returns False) when not run by systemd."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address if address is not None else os.environ.get("NOTIFY_SOCKET") or None
        self.sent: int = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, message: str) -> bool:
        """Send `message` ("READY=1", "WATCHDOG=1\\nSTATUS=..."); False when there is no socket."""
        if not self.address:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Never block: a full queue must cost a message, not freeze the watchdog thread.
                sock.setblocking(False)
                sock.sendto(message.encode(), target)
        except OSError as exc:  # systemd gone or socket unreachable: keep running, say so
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        self.sent += 1
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def pet(self) -> bool:
        return self.notify("WATCHDOG=1")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """Seconds between pets: half of `$WATCHDOG_USEC`, as sd_watchdog_enabled() advises;
    None when systemd set no watchdog for this process."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "").strip()
    if not usec:
        return None
    owner = env.get("WATCHDOG_PID", "").strip()
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None  # the watchdog belongs to another process (a parent that exec'd us)
    try:
        value = int(usec)
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; watchdog off", usec)
        return None
    return value / 2e6 if value > 0 else None


FRAME_MAX_AGE_S = 10.0  # no camera frame for this long is a stall: the watchdog stops petting, the LED shows FAULT


class FrameFlowCheck:
    """Healthy while a frame arrived within `max_age` seconds and every worker is alive.

    `last_frame` returns the monotonic time of the newest frame (a camera's
    `status().last_frame_monotonic`), or None before the first; `grace` seconds after
    construction allow the camera to start. `workers` maps names to "is it alive?".
    """

    def __init__(self, last_frame: Callable[[], float | None], max_age: float = FRAME_MAX_AGE_S, *,
                 workers: Mapping[str, Callable[[], bool]] | None = None, grace: float = 30.0,
                 clock: Clock | None = None) -> None:
        if max_age <= 0 or grace < 0:
            raise ValueError(f"watchdog needs max_age > 0 and grace >= 0 seconds; got {max_age!r}, {grace!r}")
        self.last_frame, self.max_age, self.grace = last_frame, max_age, grace
        self.workers = dict(workers or {})
        self.clock: Clock = clock or SystemClock()
        self.started = self.clock.monotonic()

    def __call__(self) -> str | None:
        now = self.clock.monotonic()
        dead = [name for name, alive in self.workers.items() if not alive()]
        if dead:
            return f"worker(s) stopped: {', '.join(sorted(dead))}"
        last = self.last_frame()
        if last is None:
            waited = now - self.started
            return None if waited <= self.grace else f"no frame since start ({waited:.0f} s)"
        age = now - last
        return None if age <= self.max_age else f"no frame for {age:.1f} s (limit {self.max_age:g} s)"


class Watchdog:
    """Pets systemd's watchdog every `interval` seconds while `check()` says healthy.

    When the check fails the reason goes to `STATUS=` (shown by `systemctl status`) and the
    petting stops, so systemd restarts the service after WatchdogSec. Drive `tick()` from
    a test with a ManualClock; `start()` runs it on a named thread.
    """

    def __init__(self, notifier: Notifier, check: HealthCheck, *, interval: float | None = None,
                 clock: Clock | None = None) -> None:
        self.notifier, self.check = notifier, check
        self.interval = interval if interval is not None else (watchdog_interval() or 0.0)
        self.clock: Clock = clock or SystemClock()
        self.pets = 0
        self.problem: str | None = None
        self._last_pet: float | None = None
        self._worker: Periodic | None = None

    @property
    def enabled(self) -> bool:
        return self.interval > 0 and self.notifier.enabled

    def tick(self) -> bool:
        """Check health; pet when healthy and due. Returns whether it petted."""
        problem = self.check()
        if bool(problem) != bool(self.problem):  # report flips, not each new stall length
            if problem:
                log.error("watchdog: %s; no longer petting, systemd will restart the service", problem)
            else:
                log.info("watchdog: healthy again")
            self.notifier.status(f"stalled: {problem}" if problem else "running")
            self.problem = problem
        if problem:
            return False
        now = self.clock.monotonic()
        if self._last_pet is not None and now - self._last_pet < self.interval:
            return False
        if self.notifier.pet():
            self._last_pet = now
            self.pets += 1
            return True
        return False

    def start(self) -> None:
        """Tick on a daemon thread, four times per interval so a late tick still pets in time."""
        if not self.enabled or self._worker is not None:
            log.info("watchdog: off (no NOTIFY_SOCKET or WATCHDOG_USEC)")
            return
        every = self.interval / 4
        self._worker = Periodic("watchdog", self._tick_on_thread, every, first_delay_s=every)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=2)
            self._worker = None

    def _tick_on_thread(self) -> None:
        """`tick()`, where a broken check must look like a stall (Periodic logs it and goes on)."""
        try:
            self.tick()
        except Exception:
            self.problem = "health check raised"
            raise
