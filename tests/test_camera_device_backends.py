"""picamera2 and jetson backends with their libraries faked at the edge (a small module
put into sys.modules): selection, missing library, exposure, frame conversion, reopen."""

from __future__ import annotations

import contextlib
import sys
import types

import numpy as np
import pytest

from firmware.camera import BackendMissing, CameraConfigError, ManualClock, make_camera
from firmware.camera.exposure import choose_shutter_us, max_shutter_us
from firmware.camera.jetson import argus_pipeline


# -- picamera2 -------------------------------------------------------------------------
class FakeRequest:
    def __init__(self, image, meta):
        self.image, self.meta, self.released = image, meta, False

    def make_array(self, name):
        assert name == "main"
        return self.image

    def get_metadata(self):
        return self.meta

    def release(self):
        self.released = True


class FakePicamera2:
    """Records what the backend asks; `script` says what each capture does."""

    cameras = [{"Model": "imx477", "Num": 0}]
    instances: list = []
    script: list = []  # items: "frame", "timeout", or an exception to raise

    def __init__(self, camera_num=0):
        self.camera_num, self.config, self.started, self.closed = camera_num, None, False, False
        self.set = []
        self.sensor_ns = 5_000_000_000
        FakePicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls):
        return cls.cameras

    def create_video_configuration(self, main, controls, buffer_count):
        return {"main": main, "controls": controls, "buffer_count": buffer_count}

    def configure(self, config):
        self.config = config

    def start(self):
        self.started = True

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True

    def set_controls(self, controls):
        self.set.append(controls)

    @contextlib.contextmanager
    def captured_request(self, wait=None):
        step = FakePicamera2.script.pop(0) if FakePicamera2.script else "frame"
        if step == "timeout":
            raise TimeoutError
        if isinstance(step, Exception):
            raise step
        w, h = self.config["main"]["size"]
        image = np.zeros((h, w, 3), np.uint8)
        image[..., 0] = 200  # B first in memory for RGB888
        self.sensor_ns += 33_000_000
        req = FakeRequest(image, {"SensorTimestamp": self.sensor_ns, "ExposureTime": 1500})
        yield req
        req.release()


@pytest.fixture
def picam(monkeypatch):
    FakePicamera2.instances, FakePicamera2.script = [], []
    monkeypatch.setitem(sys.modules, "picamera2", types.SimpleNamespace(Picamera2=FakePicamera2))
    return FakePicamera2


def test_shutter_from_speed_limit():
    assert max_shutter_us(55) == 1010  # ~1/1000 s covers 55 mph
    assert max_shutter_us(30) == 1851
    assert choose_shutter_us(30, 500) == 500
    with pytest.raises(CameraConfigError, match=r"shutter must be 20 to 1851 us to freeze 30 mph"):
        choose_shutter_us(30, 4000)
    with pytest.raises(CameraConfigError, match="speed limit must be 1 to 200 mph"):
        max_shutter_us(0)


def test_picamera2_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(BackendMissing, match=r"apt install python3-picamera2.*\[pi\] extra"):
        make_camera("picamera2", source="0")


def test_picamera2_fixed_exposure_and_frames(picam):
    clock = ManualClock()
    cam = make_camera("picamera2", source="0", width=640, height=480, fps=25, speed_limit_mph=40,
                      analogue_gain=2.0, clock=clock)
    cam.open()
    fake = picam.instances[0]
    controls = fake.config["controls"]
    assert controls == {"ExposureTime": 1388, "AnalogueGain": 2.0, "AeEnable": False,
                        "FrameDurationLimits": (40000, 40000)}
    assert fake.config["main"] == {"size": (640, 480), "format": "RGB888"} and fake.started
    f0, f1 = cam.read(1.0), cam.read(1.0)
    assert f0.image.shape == (480, 640, 3) and f0.image[0, 0, 0] == 200
    assert (f0.index, f1.index) == (0, 1)
    assert f1.monotonic - f0.monotonic == pytest.approx(0.033)  # the sensor's clock, not ours
    assert f0.monotonic == pytest.approx(5.033) and cam.status().frames == 2
    cam.set_exposure(shutter_us=1000, analogue_gain=8.0)
    assert fake.set == [{"ExposureTime": 1000, "AnalogueGain": 8.0}]
    with pytest.raises(CameraConfigError, match="analogue gain must be 1 to 16"):
        cam.set_exposure(analogue_gain=32)
    cam.close()
    assert fake.closed


def test_picamera2_timeout_and_reopen(picam):
    clock = ManualClock()
    cam = make_camera("picamera2", source=0, clock=clock, reopen_after=2.0)
    cam.open()
    picam.script = ["timeout", RuntimeError("Camera frontend has timed out!")]
    assert cam.read(0.5) is None  # a timeout is not an error
    assert cam.read(0.5) is None  # the failure closes the camera
    assert picam.instances[0].closed and "timed out" in cam.status().last_error
    assert not cam.status().connected
    assert cam.read(0.5) is None  # too early to reopen
    frame = cam.read(5.0)  # waits out the 2 s, reopens, delivers
    assert frame is not None and len(picam.instances) == 2
    assert cam.status().reconnects == 1 and clock.now >= 1002.0


def test_picamera2_bad_settings(picam):
    with pytest.raises(CameraConfigError, match="camera number such as 0; got 'csi://0'"):
        make_camera("picamera2", source="csi://0")
    with pytest.raises(CameraConfigError, match="analogue gain must be 1 to 16; got 0.5"):
        make_camera("picamera2", analogue_gain=0.5)
    cam = make_camera("picamera2", source=3)
    with pytest.raises(Exception, match="camera 3 not found; 1 camera"):
        cam.open()


# -- jetson ----------------------------------------------------------------------------
class FakeCudaImage:
    def __init__(self, rgb, timestamp):
        self.rgb, self.timestamp = rgb, timestamp


class FakeVideoSource:
    opened: list = []
    script: list = []

    def __init__(self, uri, argv=()):
        self.uri, self.argv, self.closed, self.ts = uri, list(argv), False, 10_000_000_000
        FakeVideoSource.opened.append(self)

    def Capture(self, format="rgb8", timeout=1000):
        step = FakeVideoSource.script.pop(0) if FakeVideoSource.script else "frame"
        if step == "timeout":
            return None
        if isinstance(step, Exception):
            raise step
        rgb = np.zeros((4, 6, 3), np.uint8)
        rgb[..., 0] = 250  # red
        self.ts += 20_000_000
        return FakeCudaImage(rgb, self.ts)

    def Close(self):
        self.closed = True


@pytest.fixture
def jetson_utils(monkeypatch):
    FakeVideoSource.opened, FakeVideoSource.script = [], []
    mod = types.SimpleNamespace(videoSource=FakeVideoSource, cudaToNumpy=lambda img: img.rgb,
                                cudaDeviceSynchronize=lambda: None)
    monkeypatch.setitem(sys.modules, "jetson_utils", mod)
    return mod


def test_jetson_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jetson_utils", None)
    monkeypatch.setitem(sys.modules, "jetson", None)
    monkeypatch.setitem(sys.modules, "jetson.utils", None)
    with pytest.raises(BackendMissing, match=r"jetson-utils.*\[jetson\] extra"):
        make_camera("jetson", source="rtsp://cam/stream")


def test_jetson_video_source_frames_are_bgr(jetson_utils):
    clock = ManualClock()
    cam = make_camera("jetson", source="rtsp://10.0.0.5/stream", width=1280, height=720, fps=30, clock=clock)
    cam.open()
    src = FakeVideoSource.opened[0]
    assert src.uri == "rtsp://10.0.0.5/stream"
    assert src.argv == ["--input-width=1280", "--input-height=720", "--input-rate=30"]
    f = cam.read(1.0)
    assert f.image.shape == (4, 6, 3) and tuple(f.image[0, 0]) == (0, 0, 250)  # red in BGR
    assert f.monotonic == pytest.approx(10.02)
    FakeVideoSource.script = ["timeout", Exception("stream EOS")]
    assert cam.read(1.0) is None and cam.status().connected
    assert cam.read(1.0) is None and src.closed and not cam.status().connected
    assert cam.read(10.0) is not None and cam.status().reconnects == 1 and len(FakeVideoSource.opened) == 2
    cam.close()


def test_jetson_fixed_exposure_uses_argus_pipeline(jetson_utils):
    cam = make_camera("jetson", source="csi://1", width=1920, height=1080, fps=30, speed_limit_mph=55)
    assert cam.pipeline == argus_pipeline(1, 1920, 1080, 30, 1010)
    assert 'nvarguscamerasrc sensor-id=1 exposuretimerange="1010000 1010000"' in cam.pipeline
    assert 'gainrange="1 1" ispdigitalgainrange="1 1" aelock=true' in cam.pipeline
    assert cam.pipeline.endswith("appsink drop=true max-buffers=1")
    assert cam.status().backend == "jetson"
    with pytest.raises(CameraConfigError, match="only for csi:// sources"):
        make_camera("jetson", source="rtsp://x/y", speed_limit_mph=30)
    with pytest.raises(CameraConfigError, match="jetson source must be a URI"):
        make_camera("jetson", source="0")
