"""The rig's camera delivers timestamped frames of its target, and the watchdog pets while
they flow and stops when they stop (notify messages to a socket the test binds)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from firmware.camera import make_camera
from firmware.tamper import Finding, TamperDetector
from firmware.watchdog import FrameFlowCheck, Notifier, Watchdog


@pytest.fixture
def camera(rig):
    cam = make_camera(**rig.camera)
    cam.open()
    yield cam
    cam.close()


@pytest.mark.camera
def test_camera_delivers_frames_of_the_target(camera):
    frames = [f for f in (camera.read(2.0) for _ in range(12)) if f is not None]
    assert len(frames) >= 10
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    assert all(b.monotonic > a.monotonic for a, b in zip(frames, frames[1:]))
    detector = TamperDetector(reference=frames[0].image)
    for f in frames[1:4]:  # the target is in view, lit and sharp (a passing plate may shift the view)
        assert not {Finding.COVERED, Finding.OUT_OF_FOCUS} & detector.assess(f.image).findings


@pytest.mark.camera
@pytest.mark.watchdog
def test_watchdog_pets_only_while_frames_flow(camera, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(0)
    try:
        check = FrameFlowCheck(lambda: camera.status().last_frame_monotonic, max_age=0.3, grace=5)
        dog = Watchdog(Notifier(str(tmp_path / "notify")), check, interval=0.05)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            camera.read(0.2)
            dog.tick()
        flowing = dog.pets
        assert flowing >= 3
        time.sleep(0.4)  # the pipeline stalls: nobody reads frames
        for _ in range(5):
            dog.tick()
            time.sleep(0.05)
        assert dog.pets == flowing and dog.problem.startswith("no frame for")
        msgs = []
        while True:
            try:
                msgs.append(sock.recv(256).decode())
            except BlockingIOError:
                break
        assert msgs.count("WATCHDOG=1") == flowing and msgs[-1].startswith("STATUS=stalled")
    finally:
        sock.close()


@pytest.mark.watchdog
def test_hardware_watchdog_device(rig):
    if rig.watchdog_device is None:
        pytest.skip(f"rig {rig.name!r} names no watchdog_device (a hardware watchdog to check)")
    assert Path(rig.watchdog_device).exists(), f"{rig.watchdog_device} missing: add dtparam=watchdog=on"


def test_rig_lock_keeps_a_second_run_off(rig):
    from hwrig import RigBusy, RigLock
    with pytest.raises(RigBusy, match="in use by pid"):
        RigLock(rig.lock_path).acquire()
