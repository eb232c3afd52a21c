"""The systemd notify protocol over a real AF_UNIX datagram socket, and a watchdog that
stops petting when the pipeline stalls (driven by a ManualClock, no sleeps)."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from firmware.camera.clock import ManualClock
from firmware.watchdog import FrameFlowCheck, Notifier, Watchdog, watchdog_interval


class FakeSystemd:
    """A bound datagram socket standing in for systemd's notify socket."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address if not address.startswith("@") else "\0" + address[1:])
        self.sock.settimeout(0)

    def messages(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def systemd(tmp_path):
    s = FakeSystemd(str(tmp_path / "notify"))
    yield s, str(tmp_path / "notify")
    s.close()


def test_notify_messages_reach_the_socket(systemd, monkeypatch):
    fake, path = systemd
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    n = Notifier()
    assert n.ready("camera open") and n.pet() and n.status("running") and n.stopping()
    assert fake.messages() == ["READY=1\nSTATUS=camera open", "WATCHDOG=1", "STATUS=running", "STOPPING=1"]


def test_abstract_namespace_socket():
    name = f"@alpr-test-{os.getpid()}-{threading.get_ident()}"
    fake = FakeSystemd(name)
    try:
        assert Notifier(name).ready()
        assert fake.messages() == ["READY=1"]
    finally:
        fake.close()


def test_without_systemd_nothing_is_sent(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert Notifier().pet() is False
    assert Notifier(str(tmp_path / "nobody-listens")).pet() is False  # logs, does not raise


def test_interval_is_half_of_watchdog_usec():
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"}, pid=7) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


def test_stalled_pipeline_stops_petting(systemd):
    fake, path = systemd
    clock = ManualClock()
    last = {"frame": None}
    worker_alive = {"v": True}
    check = FrameFlowCheck(lambda: last["frame"], max_age=5.0, grace=20.0, clock=clock,
                           workers={"recognizer": lambda: worker_alive["v"]})
    dog = Watchdog(Notifier(path), check, interval=2.0, clock=clock)
    assert dog.enabled

    def run(seconds, frames=True):
        for _ in range(int(seconds * 2)):
            clock.advance(0.5)
            if frames:
                last["frame"] = clock.monotonic()
            dog.tick()

    assert dog.tick()  # within the start-up grace, before any frame
    run(10)  # frames flow: a pet every 2 s
    assert dog.pets == 6
    run(4.5, frames=False)  # the camera went quiet, but for less than 5 s
    assert dog.pets == 8
    run(10, frames=False)  # stalled
    assert dog.pets == 8 and dog.problem.startswith("no frame for")
    msgs = fake.messages()
    assert msgs.count("WATCHDOG=1") == 8
    assert msgs[-1].startswith("STATUS=stalled: no frame for 5.5 s")
    run(3)  # frames back: petting resumes and the status says so
    assert dog.pets > 8 and fake.messages()[0] == "STATUS=running"
    worker_alive["v"] = False
    before = dog.pets
    run(5)
    assert dog.pets == before and dog.problem == "worker(s) stopped: recognizer"


def test_no_first_frame_after_grace_is_a_stall():
    clock = ManualClock()
    check = FrameFlowCheck(lambda: None, max_age=5, grace=30, clock=clock)
    clock.advance(29)
    assert check() is None
    clock.advance(2)
    assert check() == "no frame since start (31 s)"
    with pytest.raises(ValueError, match="max_age > 0"):
        FrameFlowCheck(lambda: None, max_age=0)


def test_watchdog_off_without_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    dog = Watchdog(Notifier(), lambda: None)
    assert not dog.enabled
    dog.start()  # does nothing, does not raise
    dog.stop()
