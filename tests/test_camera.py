"""Camera backends on real files and videos the tests write, with a clock the tests drive."""

from __future__ import annotations

import random
import time
from datetime import timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from firmware.camera import (
    BACKENDS,
    BackendMissing,
    Camera,
    CameraConfigError,
    CameraError,
    CameraFailed,
    CameraUnavailable,
    ManualClock,
    SystemClock,
    clock_synced,
    make_camera,
)
from firmware.camera.opencv import OpenCVCamera
from firmware.camera.replay import ReplayCamera

W, H = 64, 48


def shade(i: int) -> np.ndarray:
    """A frame whose brightness encodes its number, so order survives JPEG."""
    return np.full((H, W, 3), 20 + 40 * i, np.uint8)


def level(frame) -> int:
    """Which `shade` a (possibly lossy) frame was."""
    return round((float(frame.image.mean()) - 20) / 40)


def write_video(path: Path, count: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    assert writer.isOpened()
    for i in range(count):
        writer.write(shade(i))
    writer.release()
    return path


def drain(cam, limit: int = 100) -> list:
    frames = []
    while len(frames) < limit:
        f = cam.read(timeout=0)
        if f is None:
            break
        frames.append(f)
    return frames


# -- replay --------------------------------------------------------------------------
def test_replay_folder_plays_images_in_name_order(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), shade(i))
    (tmp_path / "notes.txt").write_text("not a frame")
    cam = ReplayCamera(tmp_path, fps=0, loop=False, camera_id="lane1", clock=ManualClock())
    assert isinstance(cam, Camera)
    cam.open()
    frames = drain(cam)
    assert [level(f) for f in frames] == [0, 1, 2]
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.camera_id == "lane1" and f.image.dtype == np.uint8 and f.image.shape == (H, W, 3)
               for f in frames)
    assert cam.read(timeout=0) is None and cam.status().ended and not cam.status().connected
    cam.close()


def test_replay_folder_skips_an_unreadable_file(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), shade(1))
    (tmp_path / "b.png").write_bytes(b"not a png")
    cam = ReplayCamera(tmp_path, fps=0, loop=False, clock=ManualClock())
    cam.open()
    assert [level(f) for f in drain(cam)] == [1]
    assert cam.skipped == 1


def test_replay_video_file(tmp_path):
    video = write_video(tmp_path / "drive.avi", 5)
    cam = ReplayCamera(str(video), fps=0, loop=False, clock=ManualClock())
    cam.open()
    frames = drain(cam)
    assert [level(f) for f in frames] == [0, 1, 2, 3, 4]
    cam.close()
    cam.open()  # reopening starts the video again; indexes keep counting
    f = cam.read(timeout=0)
    assert level(f) == 0 and f.index == 5


def test_replay_generator_loops_through_a_callable(tmp_path):
    cam = ReplayCamera(lambda: (shade(i) for i in range(3)), fps=0, loop=True, clock=ManualClock())
    cam.open()
    frames = [cam.read(timeout=0) for _ in range(7)]
    assert [level(f) for f in frames] == [0, 1, 2, 0, 1, 2, 0]
    assert [f.index for f in frames] == list(range(7))
    assert not cam.status().ended


def test_replay_list_without_loop_ends_then_waits_instead_of_spinning():
    clock = ManualClock()
    cam = ReplayCamera([shade(0), shade(1)], fps=0, loop=False, clock=clock)
    cam.open()
    assert [level(cam.read(0)) for _ in range(2)] == [0, 1]
    assert cam.read(timeout=0.5) is None
    assert cam.status().ended and cam.ended
    assert clock.sleeps[-1] == 0.5


def test_replay_grey_and_bgra_frames_become_bgr():
    grey = np.full((H, W), 99, np.uint8)
    bgra = np.full((H, W, 4), 7, np.uint8)
    cam = ReplayCamera([grey, bgra], fps=0, loop=False, clock=ManualClock())
    cam.open()
    assert [cam.read(0).image.shape for _ in range(2)] == [(H, W, 3), (H, W, 3)]


def test_replay_pacing_at_fps_real_time():
    cam = ReplayCamera([shade(0)] * 10, fps=50, loop=False, clock=SystemClock())
    cam.open()
    start = time.monotonic()
    frames = [cam.read(timeout=1.0) for _ in range(10)]
    elapsed = time.monotonic() - start
    assert all(f is not None for f in frames)
    assert elapsed >= 0.15  # 9 gaps of 20 ms; the bound is loose so a busy machine passes
    stamps = [f.monotonic for f in frames]
    assert stamps == sorted(stamps)
    assert all(f.utc.tzinfo is not None and f.utc.utcoffset().total_seconds() == 0 for f in frames)


def test_replay_unpaced_is_fast():
    cam = ReplayCamera([shade(0)] * 200, fps=0, loop=False, clock=SystemClock())
    cam.open()
    start = time.monotonic()
    assert len(drain(cam, 300)) == 200
    assert time.monotonic() - start < 1.0


def test_replay_pacing_with_a_driven_clock_honours_the_read_timeout():
    clock = ManualClock(start=100.0)
    cam = ReplayCamera([shade(0)] * 5, fps=10, loop=False, clock=clock)
    cam.open()
    first = cam.read(timeout=1)
    assert first.monotonic == 100.0
    assert cam.read(timeout=0.04) is None  # next frame is due at 100.1: not within 40 ms
    second = cam.read(timeout=1)
    assert second.monotonic == pytest.approx(100.1)
    clock.advance(0.5)  # a slow consumer: no burst of catch-up frames
    third = cam.read(timeout=1)
    assert cam.read(timeout=0.05) is None
    fourth = cam.read(timeout=1)
    assert fourth.monotonic - third.monotonic == pytest.approx(0.1)


def test_timestamps_and_clock_flag_pass_through():
    clock = ManualClock(synced=False)
    cam = ReplayCamera([shade(0)] * 3, fps=0, loop=False, clock=clock)
    cam.open()
    a = cam.read(0)
    clock.is_synced = True
    clock.advance(2.0)
    b = cam.read(0)
    assert (a.clock_synced, b.clock_synced) == (False, True)
    assert b.monotonic - a.monotonic == pytest.approx(2.0)
    assert (b.utc - a.utc).total_seconds() == pytest.approx(2.0)
    assert a.utc.tzinfo == timezone.utc


def test_source_that_raises_mid_run_is_a_camera_failure_the_loop_can_reopen():
    passes = []

    def flaky():
        passes.append(1)
        yield shade(0)
        yield shade(1)
        if len(passes) == 1:
            raise OSError("USB stick pulled")
        yield shade(2)

    cam = ReplayCamera(flaky, fps=0, loop=False, clock=ManualClock())
    seen, errors = [], []
    cam.open()
    while True:  # what the pipeline's capture loop does
        try:
            f = cam.read(timeout=0)
        except CameraError as exc:
            errors.append(exc)
            cam.close()
            cam.open()
            continue
        if f is None:
            break
        seen.append(level(f))
    assert seen == [0, 1, 0, 1, 2]
    assert len(errors) == 1 and isinstance(errors[0], CameraFailed)
    assert "USB stick pulled" in str(errors[0]) and "open()" in str(errors[0])
    assert "USB stick pulled" in cam.status().last_error


def test_source_giving_a_non_image_is_a_camera_failure():
    cam = ReplayCamera([shade(0), np.zeros((4, 4), np.float32)], fps=0, loop=False, clock=ManualClock())
    cam.open()
    cam.read(0)
    with pytest.raises(CameraFailed, match=r"float32.*uint8 numpy arrays shaped \(height, width, 3\)"):
        cam.read(0)


def test_replay_errors_name_the_problem(tmp_path):
    with pytest.raises(CameraUnavailable, match="does not exist"):
        ReplayCamera(tmp_path / "missing", clock=ManualClock()).open()
    with pytest.raises(CameraUnavailable, match="holds no images"):
        ReplayCamera(tmp_path, clock=ManualClock()).open()
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"garbage, not a video")
    with pytest.raises(CameraUnavailable, match="cannot open .*bad.avi as a video"):
        ReplayCamera(bad, clock=ManualClock()).open()
    with pytest.raises(CameraUnavailable, match="gave no frames"):
        cam = ReplayCamera(list, fps=0, clock=ManualClock())
        cam.open()
        cam.read(0)
    with pytest.raises(CameraConfigError, match="not a generator object"):
        ReplayCamera((shade(i) for i in range(2)), loop=True)
    with pytest.raises(CameraConfigError, match="fps must be a number >= 0"):
        ReplayCamera([shade(0)], fps=-1)
    with pytest.raises(CameraFailed, match="call open"):
        ReplayCamera([shade(0)], clock=ManualClock()).read(0)
    assert issubclass(CameraUnavailable, OSError) and issubclass(CameraConfigError, ValueError)


# -- opencv --------------------------------------------------------------------------
def test_opencv_reads_a_video_file(tmp_path):
    video = write_video(tmp_path / "cam.avi", 4)
    cam = OpenCVCamera(str(video), camera_id="usb0", clock=ManualClock(synced=False))
    assert isinstance(cam, Camera)
    cam.open()
    frames = [cam.read(timeout=1) for _ in range(4)]
    assert [level(f) for f in frames] == [0, 1, 2, 3]
    assert all(f.camera_id == "usb0" and not f.clock_synced for f in frames)
    st = cam.status()
    assert st.connected and st.frames == 4 and st.reconnects == 0
    assert st.last_frame_monotonic == frames[-1].monotonic
    cam.close()
    cam.close()


def test_opencv_reconnects_with_growing_capped_backoff_and_resumes(tmp_path):
    video = write_video(tmp_path / "cam.avi", 3)
    clock = ManualClock()
    cam = OpenCVCamera(video, clock=clock, jitter=0.0, backoff_initial=0.5, backoff_max=30.0)
    cam.open()
    assert [level(cam.read(1)) for _ in range(3)] == [0, 1, 2]
    video.rename(tmp_path / "away.avi")  # the stream ends and the source is gone

    assert cam.read(timeout=200) is None  # never raises; waits out its timeout reconnecting
    delays = clock.sleeps[:-1]  # the last sleep is cut short by the read timeout
    assert delays[:7] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert all(d == 30.0 for d in delays[6:]) and sum(clock.sleeps) == pytest.approx(200)
    st = cam.status()
    assert not st.connected and "cannot open" in st.last_error

    (tmp_path / "away.avi").rename(video)  # the source comes back
    f = cam.read(timeout=60)
    assert f is not None and level(f) == 0 and f.index == 3
    st = cam.status()
    assert st.connected and st.reconnects == 1

    clock.sleeps.clear()
    drain(cam)  # end of file again: the backoff starts from the beginning
    cam.read(timeout=0.6)
    assert clock.sleeps[0] == 0.5


def test_opencv_backoff_jitter_stays_under_the_cap():
    cam = OpenCVCamera("rtsp://example.invalid/x", rng=random.Random(7), clock=ManualClock())
    delays = [cam.backoff_delay(n) for n in range(12)]
    assert all(0 < d <= 30.0 for d in delays)
    assert all(b > a for a, b in zip(delays[:5], delays[1:6]))  # jitter < 50 % keeps doubling visible
    assert min(delays[8:]) >= 30.0 * 0.75


def test_opencv_source_absent_at_open_is_retried_not_raised(tmp_path):
    clock = ManualClock()
    cam = OpenCVCamera("rtsp://user:secret@127.0.0.1:1/stream", clock=clock, jitter=0.0)
    cam.open()  # connection refused on loopback: reported, not raised
    assert cam.read(timeout=0) is None
    st = cam.status()
    assert not st.connected and st.last_error and "secret" not in st.last_error
    assert cam.read(timeout=2) is None
    assert clock.sleeps[:2] == [0.5, 1.0]


def test_opencv_bad_options_are_config_errors():
    for kwargs, match in [({"source": -1}, "device index"), ({"source": ""}, "device index"),
                          ({"source": 0, "width": 0}, "width must be a positive"),
                          ({"source": 0, "fps": -5}, "fps must be"),
                          ({"source": 0, "jitter": 1.5}, "jitter must be"),
                          ({"source": 0, "backoff_initial": 5, "backoff_max": 1}, "backoff")]:
        with pytest.raises(CameraConfigError, match=match):
            OpenCVCamera(**kwargs)
    assert OpenCVCamera("2").source == 2
    with pytest.raises(CameraFailed, match="call open"):
        OpenCVCamera(0).read(0)
    with pytest.raises(CameraConfigError, match="timeout must be"):
        cam = OpenCVCamera("missing.avi", clock=ManualClock())
        cam.open()
        cam.read(-1)


# -- the registry --------------------------------------------------------------------
def test_make_camera_builds_backends_by_name(tmp_path):
    cam = make_camera("replay", source=[shade(0)], fps=0, loop=False, clock=ManualClock())
    assert isinstance(cam, ReplayCamera)
    cam.open()
    assert level(cam.read(0)) == 0
    assert isinstance(make_camera("opencv", source=0), OpenCVCamera)
    assert set(BACKENDS) == {"picamera2", "jetson", "opencv", "replay"}


def test_make_camera_errors():
    with pytest.raises(CameraConfigError,
                       match="camera backend must be one of picamera2, jetson, opencv, replay; got 'pi'"):
        make_camera("pi")
    with pytest.raises(BackendMissing, match=r"picamera2.*\[pi\] extra"):
        make_camera("picamera2")
    with pytest.raises(BackendMissing, match=r"jetson-utils.*\[jetson\] extra"):
        make_camera("jetson", source="csi://0")
    with pytest.raises(CameraConfigError, match="'replay'.*resolution.*it accepts source, fps"):
        make_camera("replay", source=[], resolution=(1, 2))


# -- the clock -----------------------------------------------------------------------
def test_clock_synced_answers_a_bool_and_the_system_clock_caches_it():
    assert isinstance(clock_synced(), bool)
    calls = []
    clock = SystemClock(sync_ttl=60, check=lambda: calls.append(1) or True)
    assert clock.synced() and clock.synced() and len(calls) == 1
    assert clock.utc().tzinfo == timezone.utc


def test_firmware_imports_nothing_of_the_appliance():
    root = Path(__file__).resolve().parents[1] / "firmware"
    offenders = [str(p) for p in root.rglob("*.py")
                 if "import appliance" in p.read_text() or "from appliance" in p.read_text()]
    assert not offenders
