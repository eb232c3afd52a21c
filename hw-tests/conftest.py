"""Hardware-in-the-loop suite: `pytest hw-tests --rig sim` or `--rig path/to/rig.toml`.

Tests carry capability markers (camera, gpio, watchdog); a rig without one skips them with
the reason. The rig is locked for the whole session so two runs cannot share it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for hwrig, whatever the rootdir
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo, for firmware

from hwrig import CAPABILITIES, Rig, RigBusy, RigError, RigLock, load_rig, simulated_rig  # noqa: E402

PLATES = ("ABC1234", "7XYZ890", "KLM4455")


def pytest_addoption(parser):
    parser.addoption("--rig", default="sim",
                     help="'sim' for the simulated rig, or the path of a rig TOML file (hw-tests/README.md)")


def pytest_configure(config):
    for cap in CAPABILITIES:
        config.addinivalue_line("markers", f"{cap}: needs a rig with {cap} (skipped with the reason otherwise)")


def plate_frames() -> list[np.ndarray]:
    """The simulated camera's view: a textured scene with a known plate passing by."""
    rng = np.random.default_rng(7)
    base = rng.integers(60, 160, (360, 640, 3), dtype=np.uint8)
    base = cv2.GaussianBlur(base, (0, 0), 2)
    frames = []
    for i, text in enumerate(PLATES * 3):
        f = base.copy()
        x = 80 + 40 * i
        cv2.rectangle(f, (x, 220), (x + 200, 280), (240, 240, 240), -1)
        cv2.putText(f, text, (x + 8, 265), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20, 20, 20), 3)
        frames.append(f)
    return frames


@pytest.fixture(scope="session")
def rig(request) -> Rig:
    spec = request.config.getoption("--rig")
    try:
        r = simulated_rig(plate_frames) if spec == "sim" else load_rig(Path(spec))
    except RigError as exc:
        pytest.exit(str(exc), returncode=4)
    lock = RigLock(r.lock_path)
    try:
        lock.acquire()
    except RigBusy as exc:
        pytest.exit(str(exc), returncode=3)
    yield r
    lock.release()
    if spec == "sim":
        r.lock_path.unlink(missing_ok=True)  # one per process, never shared: leave no litter in /tmp


@pytest.fixture(autouse=True)
def _capabilities(request, rig):
    for cap in CAPABILITIES:
        if request.node.get_closest_marker(cap) and cap not in rig.capabilities:
            have = ", ".join(sorted(rig.capabilities)) or "none"
            pytest.skip(f"rig {rig.name!r} has no {cap} (its capabilities: {have})")
