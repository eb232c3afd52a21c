"""What the store does about a full disk: a ballast file that keeps room for metadata, and an images pause.

The database needs a little room for every read (WAL frames, new pages) and the images
need a lot; when the file system fills, an image write fails first only by luck. So the
store holds `RESERVE_BYTES` of ballast (`images/.reserve`, allocated with fallocate, no
data written). On the first sign of a full disk (an image write failing with ENOSPC, or
SQLite's "database or disk is full") the ballast goes, the images are paused, and reads
keep being stored as metadata (their images marked "disk full"), metadata being what the
hub must not lose (RT-1). Each read while paused checks for room to take the ballast back
with as much again to spare (else the ballast would be retaken and lost to the next image
at once, read after read); once there is (the capacity purge, or anything else, made
room) the ballast is back and images resume.
"""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

from appliance.store import files

log = logging.getLogger(__name__)

RESERVE_NAME = ".reserve"
RESERVE_BYTES = 16 * 1024 * 1024  # a day of a busy camera's metadata (30,000 x ~900 bytes), with room to spare


class DiskGuard:
    """Holds the ballast and the pause; `ready()` before writing images, `disk_full()` when the disk says so."""

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = path
        self.size = size
        self.paused = False
        if not self.restore():
            log.warning("no room for the store's %d-byte reserve at %s: images paused until there is room",
                        size, path)

    def ready(self) -> bool:
        """Whether images may be written now (retakes the ballast first while paused)."""
        return not self.paused or self.restore()

    def disk_full(self) -> None:
        """Give the ballast's room to the database and pause images."""
        files.remove_quietly(self.path)
        if not self.paused:
            log.error("the disk holding %s is full: reserve released, images paused", self.path.parent)
        self.paused = True

    def restore(self) -> bool:
        """Take the ballast back (whole, or not at all); unpause when that worked."""
        if self.size <= 0:
            self.paused = False
            return True
        try:
            if self.path.stat().st_size >= self.size:
                self.paused = False
                return True
        except FileNotFoundError:
            pass
        st = os.statvfs(self.path.parent)  # also at open: a second process must not take a released reserve's room
        if st.f_bavail * st.f_frsize < 2 * self.size:
            self.paused = True
            return False
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, self.size)
        except OSError as e:
            os.close(fd)
            files.remove_quietly(self.path)
            if files.is_disk_full(e):
                return False
            if e.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: no ballast
                self.size = 0
                self.paused = False
                return True
            raise
        os.close(fd)
        if self.paused:
            log.warning("room again on the disk holding %s: reserve back, images resume", self.path.parent)
        self.paused = False
        return True
