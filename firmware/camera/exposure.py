"""Shutter and gain limits that freeze traffic, shared by the Pi and Jetson backends.

A plate moving at `mph` smears across the sensor while the shutter is open; about
1/(18 x mph) s keeps it readable (1/1000 s covers 55 mph). Longer shutters come only
from an explicit `shutter_us`, and never beyond the speed rule.
"""

from __future__ import annotations

from firmware.camera.base import CameraConfigError

GAIN_LIMITS = (1.0, 16.0)  # analogue gain the Pi sensors (IMX477/IMX708) accept


def max_shutter_us(speed_limit_mph: float) -> int:
    """The slowest shutter, in microseconds, that freezes traffic at `speed_limit_mph`."""
    if isinstance(speed_limit_mph, bool) or not isinstance(speed_limit_mph, (int, float)) \
            or not 1 <= speed_limit_mph <= 200:
        raise CameraConfigError(f"speed limit must be 1 to 200 mph; got {speed_limit_mph!r}")
    return int(1e6 / (18.0 * speed_limit_mph))


def choose_shutter_us(speed_limit_mph: float, shutter_us: int | None = None) -> int:
    """`shutter_us` when given and fast enough, else the speed rule's maximum."""
    limit = max_shutter_us(speed_limit_mph)
    if shutter_us is None:
        return limit
    if isinstance(shutter_us, bool) or not isinstance(shutter_us, int) or not 20 <= shutter_us <= limit:
        raise CameraConfigError(
            f"shutter must be 20 to {limit} us to freeze {speed_limit_mph:g} mph traffic "
            f"(1/(18 x mph) s); got {shutter_us!r}")
    return shutter_us


def check_gain(gain: float, limits: tuple[float, float] = GAIN_LIMITS) -> float:
    """An analogue gain inside `limits`, or CameraConfigError naming them."""
    lo, hi = limits
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not lo <= gain <= hi:
        raise CameraConfigError(f"analogue gain must be {lo:g} to {hi:g}; got {gain!r}")
    return float(gain)
