"""Periodic, the one worker-thread loop: ticks at once and every interval, survives (and logs)
a failing tick, refuses a second start, stops promptly. Driven by Events the ticks set; the
waits below are deadlines for a broken build, never what makes a test pass."""

from __future__ import annotations

import logging
import threading

import pytest

from firmware.periodic import Periodic
from firmware.watchdog import Notifier, Watchdog

DEADLINE = 5.0  # seconds: only a broken Periodic comes near this


class Ticks:
    """A tick that records its thread and sets `reached` on the `until`-th call."""

    def __init__(self, until: int = 1, fail: set[int] = frozenset()) -> None:
        self.calls, self.until, self.fail = 0, until, fail
        self.threads: list[threading.Thread] = []
        self.reached = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.threads.append(threading.current_thread())
        if self.calls >= self.until:
            self.reached.set()
        if self.calls in self.fail:
            raise OSError(f"tick {self.calls} broke")


def test_ticks_at_once_then_every_interval_on_a_named_daemon_thread_until_stopped() -> None:
    ticks, exits = Ticks(until=3), []
    worker = Periodic("test-worker", ticks, 0.001, on_exit=lambda: exits.append(threading.current_thread().name))
    assert not worker.running
    worker.start()
    try:
        assert ticks.reached.wait(DEADLINE)
        assert worker.running
    finally:
        assert worker.stop(timeout=DEADLINE) is True
    assert not worker.running
    assert {t.name for t in ticks.threads} == {"test-worker"} and ticks.threads[0].daemon
    assert exits == ["test-worker"]  # on_exit ran once, on the worker's own thread, after the last tick


def test_a_failing_tick_is_logged_with_the_worker_name_and_the_loop_goes_on(caplog) -> None:
    ticks = Ticks(until=3, fail={1, 2})
    worker = Periodic("flaky-worker", ticks, 0.001)
    with caplog.at_level(logging.ERROR, logger="firmware.periodic"):
        worker.start()
        try:
            assert ticks.reached.wait(DEADLINE)  # the third tick came after two that raised
        finally:
            assert worker.stop(timeout=DEADLINE)
    failures = [r for r in caplog.records if r.name == "firmware.periodic"]
    assert len(failures) == 2
    assert all("'flaky-worker'" in r.getMessage() and r.exc_info[0] is OSError for r in failures)
    assert "tick 1 broke" in caplog.text


def test_a_second_start_is_refused_running_or_stopped() -> None:
    ticks = Ticks()
    worker = Periodic("once", ticks, 3600)
    worker.start()
    try:
        assert ticks.reached.wait(DEADLINE)
        with pytest.raises(RuntimeError, match="worker 'once' was already started; a Periodic runs once"):
            worker.start()
    finally:
        assert worker.stop(timeout=DEADLINE)
    with pytest.raises(RuntimeError, match="already started"):
        worker.start()
    assert ticks.calls == 1  # the long wait ended at stop(), not after an hour


def test_stop_reports_a_tick_that_does_not_end_in_time() -> None:
    entered, release = threading.Event(), threading.Event()

    def stuck() -> None:
        entered.set()
        release.wait(DEADLINE)

    worker = Periodic("stuck", stuck, 3600)
    worker.start()
    assert entered.wait(DEADLINE)
    assert worker.stop(timeout=0.01) is False and worker.running
    release.set()
    assert worker.stop(timeout=DEADLINE) is True and not worker.running


def test_a_stop_during_the_first_delay_means_no_tick() -> None:
    ticks, exited = Ticks(), threading.Event()
    worker = Periodic("late", ticks, 3600, first_delay_s=3600, on_exit=exited.set)
    worker.start()
    assert worker.stop(timeout=DEADLINE)
    assert exited.is_set() and ticks.calls == 0


def test_stop_before_start_is_harmless_and_bad_intervals_say_what_is_allowed() -> None:
    assert Periodic("never", Ticks(), 1.0).stop() is True
    with pytest.raises(ValueError, match="worker 'w': interval_s must be a number of seconds above 0; got 0"):
        Periodic("w", Ticks(), 0)
    with pytest.raises(ValueError, match="first_delay_s must be a number of seconds, 0 or more; got -1"):
        Periodic("w", Ticks(), 1.0, first_delay_s=-1)


def test_a_watchdog_check_that_raises_counts_as_a_stall_and_the_thread_lives_on(tmp_path) -> None:
    """The watchdog keeps its own rule inside its tick: a raising check means "stalled", no pet."""
    checked = Ticks(until=2, fail={1, 2})
    dog = Watchdog(Notifier(str(tmp_path / "no-systemd-here")), lambda: checked(), interval=0.004)
    dog.start()
    try:
        assert checked.reached.wait(DEADLINE)  # a second check after the first one raised
    finally:
        dog.stop()
    assert dog.problem == "health check raised" and dog.pets == 0
    assert {t.name for t in checked.threads} == {"watchdog"}
