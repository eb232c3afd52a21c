"""Reopen-after-failure, shared by the device camera backends (picamera2, jetson).

A backend that mixes this in keeps `clock`, `camera_id`, `reopen_after`, `_retry_at`,
`_reconnects` and `_last_error`, and provides `_start()` (raising CameraUnavailable) and
`_release()` (closing whatever the library holds). `read()` calls `_try_reopen` while the
camera is down, so a stuck or unplugged camera comes back without the pipeline's help.
"""

from __future__ import annotations

import logging

from firmware.camera.base import CameraUnavailable

log = logging.getLogger(__name__)


class Reopening:
    """Close on failure, wait `reopen_after` seconds, then try to start again."""

    def _fail(self, why: str) -> None:
        self._last_error = why
        log.warning("camera %s: %s; reopening in %g s", self.camera_id, why, self.reopen_after)
        try:
            self._release()
        except Exception as exc:  # the library is already in trouble; the reopen decides
            log.debug("camera %s: release after failure raised %s", self.camera_id, exc)
        self._retry_at = self.clock.monotonic() + self.reopen_after

    def _try_reopen(self, timeout: float) -> bool:
        wait = (self._retry_at or 0.0) - self.clock.monotonic()
        if wait > timeout:
            self.clock.sleep(timeout)
            return False
        if wait > 0:
            self.clock.sleep(wait)
        try:
            self._start()
        except CameraUnavailable as exc:
            self._fail(str(exc))
            return False
        self._reconnects += 1
        return True
