"""Releases side by side under one root, and the `current`/`previous` links that choose one.

    ROOT/releases/<version>/site/{appliance,firmware,webui}
    ROOT/current  -> releases/<version>      (first on the services' PYTHONPATH)
    ROOT/previous -> releases/<version>      (where a rollback goes)

A release is unpacked into a hidden scratch folder and renamed into place, and a link is
switched by renaming a new link over it, so a power cut at any moment leaves either the old
or the new choice, never half of one. The release the device is running is never deleted.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from appliance.errors import UpdateError
from appliance.update.bundle import Manifest, unpack_payload

log = logging.getLogger(__name__)

KEEP = 3  # releases kept on disk: current, previous and one more


class Releases:
    """The release folders and links under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / "releases"

    def current(self) -> str | None:
        return self._target("current")

    def previous(self) -> str | None:
        return self._target("previous")

    def installed(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        folders = [p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return [p.name for p in sorted(folders, key=lambda p: p.stat().st_mtime)]  # oldest first

    def site(self, version: str) -> Path:
        return self.folder / version / "site"

    def install(self, manifest: Manifest, payload: bytes) -> Path:
        """Unpack a verified payload as its version; a version already there is replaced
        unless it is the running one (re-installing what runs would pull code from under it)."""
        target = self.folder / manifest.version
        if manifest.version == self.current():
            raise UpdateError(f"version {manifest.version} is the one running; nothing to do")
        scratch = self.folder / f".{manifest.version}.partial"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            unpack_payload(payload, scratch)
            if target.exists():
                shutil.rmtree(target)
            scratch.rename(target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        log.info("release %s installed at %s", manifest.version, target)
        return target

    def switch(self, version: str) -> str | None:
        """Make `version` current; the old current becomes previous. Returns the old current."""
        if not (self.folder / version / "site").is_dir():
            raise UpdateError(f"release {version} is not installed under {self.folder}")
        old = self.current()
        if old is not None and old != version:
            self._link("previous", old)
        self._link("current", version)
        log.info("switched from release %s to %s", old or "(the image's own)", version)
        return old

    def rollback_to(self, old: str | None) -> None:
        """Go back to `old`, or to the image's own install when there was no release before."""
        if old is None:
            (self.root / "current").unlink(missing_ok=True)
            log.warning("rolled back to the application installed with the image")
        else:
            self._link("current", old)
            log.warning("rolled back to release %s", old)

    def prune(self) -> list[str]:
        """Delete the oldest releases beyond KEEP, never current or previous."""
        keep = {self.current(), self.previous()}
        spare = [v for v in self.installed() if v not in keep]
        doomed = spare[:max(0, len(spare) - (KEEP - len(keep - {None})))]
        for version in doomed:
            shutil.rmtree(self.folder / version)
        return doomed

    def _target(self, name: str) -> str | None:
        link = self.root / name
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def _link(self, name: str, version: str) -> None:
        tmp = self.root / f".{name}.new"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(Path("releases") / version)
        os.replace(tmp, self.root / name)
        _fsync_dir(self.root)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
