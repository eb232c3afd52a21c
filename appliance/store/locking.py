"""A lock on the store folder itself: shared while a Store is open, exclusive for upgrades and admin.

`flock` on the folder's own descriptor: no lock file, so opening a store with the wrong
key creates nothing, and the lock goes away with the process however it dies (SIGKILL
included). Every open `Store` holds it shared; upgrading a v1 store, finishing an
interrupted rotation, `rotate_key` and `wipe` take it exclusive, so they never run
beside a process that is reading or writing the store.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from appliance.errors import StoreError


class FolderLock:
    """flock(2) on a folder; `shared()` / `exclusive()` wait up to `timeout_s`, 0 tries once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None
        self._fd = os.open(folder, os.O_RDONLY)

    def shared(self, timeout_s: float, why: str) -> None:
        self._take(fcntl.LOCK_SH, timeout_s, why)

    def exclusive(self, timeout_s: float, why: str) -> None:
        self._take(fcntl.LOCK_EX, timeout_s, why)

    def unlock(self) -> None:
        """Drop the lock but keep the descriptor, to take it again in another mode."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __del__(self) -> None:  # a Store dropped without close() must not keep the folder locked
        self.release()

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _take(self, mode: int, timeout_s: float, why: str) -> None:
        if self._fd is None:
            raise StoreError(f"the lock on {self.folder} was released")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreError(f"the store at {self.folder} is in use by another process, so it cannot "
                                     f"{why}: stop the alpr service and web UI (or let a running `alpr store` "
                                     "command finish), then try again") from None
                time.sleep(0.05)
