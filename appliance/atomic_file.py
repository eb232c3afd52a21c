"""Replace a small file so a reader or a power cut sees the old file or the new one, never half.

For the appliance's small state and report files (the health mark, the edge snapshot, the
tamper lock, certificates, the provisioning report and config, demo.json). The temp file sits
beside the target (same file system, so the rename is atomic) and is removed if the write
fails. Image files have their own writer with a sweepable temp folder (store/files.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_file(path: Path, data: bytes | str, *, mode: int = 0o644, same_owner: bool = False) -> None:
    """Write `data` to a temp file beside `path` with `mode`, fsync it, then rename it over `path`.

    `same_owner`: the new file gets the owner of the one it replaces (see keep_owner).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        if same_owner:
            keep_owner(Path(tmp), path)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def keep_owner(new: Path, old: Path) -> None:
    """Give `new` the owner and group of the file it replaces, so a renewal run as root leaves
    the certificate (or key) readable by the service that read the old one."""
    try:
        st = old.stat()
    except FileNotFoundError:
        return
    if (st.st_uid, st.st_gid) != (new.stat().st_uid, new.stat().st_gid):
        os.chown(new, st.st_uid, st.st_gid)
