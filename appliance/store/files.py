"""Durable file writes: temp name, fsync, atomic rename, fsync of the folder.

After `write_atomic` returns, the file is on disk under its final name even if power is
cut the next instant; before it returns, the final name either does not exist or holds
the previous complete content. Never a half-written JPEG under a name a row points to.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

TEMP_SUFFIX = ".part"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_atomic(path: Path, data: bytes, temp_dir: Path) -> None:
    """Write `data` to `path` so that a crash leaves either nothing or the whole file.

    The temp file lives in `temp_dir` (same file system) so that sweeping crash leftovers
    at start lists one small folder instead of walking every image.
    """
    tmp = temp_dir / (path.name + TEMP_SUFFIX)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        remove_quietly(tmp)  # on a full disk the half-written file would hold the space it could not fill
        raise
    fsync_dir(path.parent)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the file system (or the user's quota) has no room left."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its renames are journalled anyway
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dir_durable(folder: Path) -> None:
    """Create `folder` (and parents) and fsync its parent, so files renamed into it survive."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fsync_dir(folder.parent)


def remove_quietly(path: Path) -> None:
    """Delete a file if it is there; used to undo a write whose row did not commit."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


STALE_TEMP_S = 120.0


def sweep_temp_files(temp_dir: Path, older_than_s: float = STALE_TEMP_S) -> int:
    """Delete temp files a crash left behind in `temp_dir`; return how many.

    Only files untouched for `older_than_s` go: a second process opening the store (the
    web UI, a test) must not delete the image the writer process is writing right now.
    """
    import time
    n = 0
    now = time.time()
    for p in temp_dir.glob("*" + TEMP_SUFFIX):
        try:
            if now - p.stat().st_mtime < older_than_s:
                continue
        except FileNotFoundError:
            continue
        remove_quietly(p)
        n += 1
    return n
