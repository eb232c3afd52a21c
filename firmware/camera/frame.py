"""The Frame: one captured image with the times the appliance needs to trust it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A BGR uint8 image with its capture times.

    `monotonic` orders frames and measures speed even when the wall clock jumps;
    `utc` is what reads are stamped with, and `clock_synced` says whether it can be
    trusted (a Pi 4 has no real-time clock: before NTP/PTP sync its date is wrong).
    """

    image: np.ndarray
    index: int  # per-source sequence number, starting at 0
    monotonic: float  # seconds, time.monotonic() or the sensor timestamp
    utc: datetime  # timezone-aware UTC
    clock_synced: bool
    camera_id: str = "cam0"
