"""Per-client token buckets for the hub pull API: a runaway hub script must not starve the device.

Each hub client (a token's name) has a bucket of `burst` requests that refills at
`rate_per_minute`; a request takes one, and an empty bucket answers 429 with Retry-After
(whole seconds until one is back, at least 1). Buckets live in memory per web process: a
restart refills them, which is harmless (the limit guards the device's CPU, not a quota).
The clock is injectable, so tests move time instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

DEFAULT_RATE_PER_MINUTE = 600.0
DEFAULT_BURST = 60


class RateLimiter:
    """`take(client)` -> 0.0 when allowed, else the seconds to wait before asking again."""

    def __init__(self, rate_per_minute: float = DEFAULT_RATE_PER_MINUTE, burst: int = DEFAULT_BURST, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not rate_per_minute > 0:
            raise ValueError(f"the pull rate must be above 0 requests per minute; got {rate_per_minute}")
        if not isinstance(burst, int) or burst < 1:
            raise ValueError(f"the pull burst must be a whole number of requests >= 1; got {burst!r}")
        self.rate_per_s = rate_per_minute / 60.0
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one request of `client`'s bucket; 0.0 if it had one, else seconds until it will."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate_per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.rate_per_s

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The Retry-After header value: whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(wait_s)))
