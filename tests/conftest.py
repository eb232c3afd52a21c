"""Shared fixtures: one reader/detector per session, the alpr command, the shared data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# A busy CI machine makes per-example timings meaningless; speed is benchmarked, not tested.
settings.register_profile("ci", deadline=None)
settings.load_profile("ci")

from appliance.recognition.detector import PlateDetector
from appliance.recognition.engine import Recognizer
from appliance.recognition.reader import PlateReader

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def reader() -> PlateReader:
    return PlateReader()


@pytest.fixture(scope="session")
def recognizer(reader: PlateReader) -> Recognizer:
    return Recognizer(reader, PlateDetector())


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "openalpr-us").is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the accuracy checks need the shared real data")
    return SHARED_DATA


def alpr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real `alpr` command line (as `python -m appliance`) and capture its output."""
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(autouse=True)
def _store_key_in_tmp(tmp_path_factory, monkeypatch):
    """Stores opened with the default key keep it in a temp folder, never /var/lib/alpr-keys."""
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path_factory.mktemp("credentials")))
    # and `alpr run` started by a test writes its health mark (alpr update) there, not in /run/alpr
    monkeypatch.setenv("ALPR_UPDATE__HEALTH_FILE", str(tmp_path_factory.mktemp("run") / "health.json"))


@pytest.fixture
def hub():
    """A real recording hub on loopback (appliance/hub/testhub.py), stopped after the test."""
    from appliance.hub.testhub import RecordingHub
    with RecordingHub() as h:
        yield h
