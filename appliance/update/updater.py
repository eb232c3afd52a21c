"""`alpr update BUNDLE`: verify, install side by side, switch, wait for health, or roll back.

The order is what makes it safe on a pole: nothing is switched before the signature and the
payload hash check out; the old release stays on disk; the switch is one atomic rename; and
the new release must prove itself by writing the health mark (frames flowing, workers alive)
within `update.health_timeout_s`, or the links go back and the services restart on the old
release. Store migrations are additive (appliance/store/schema.py), so the old release keeps
every read the new one wrote while it was on trial.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.errors import UpdateError
from appliance.update.bundle import verify_bundle
from appliance.update.health_mark import read_mark
from appliance.update.releases import Releases

log = logging.getLogger(__name__)

Restart = Callable[[], None]


@dataclass(frozen=True)
class UpdateResult:
    version: str
    previous: str | None
    healthy: bool
    waited_s: float
    pruned: tuple[str, ...] = ()


def apply_update(bundle: Path, trusted: Ed25519PublicKey, releases: Releases, restart: Restart, *,
                 health_file: Path, timeout_s: float, poll_s: float = 0.5,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> UpdateResult:
    """Install and switch to `bundle`; roll back if it does not report healthy in time.

    Raises UpdateError before touching anything when the bundle is refused. A rollback is a
    result (healthy=False), not an exception, so the caller can report it and exit non-zero.
    """
    manifest, payload = verify_bundle(bundle, trusted)
    releases.install(manifest, payload)
    switched_at = clock()
    old = releases.switch(manifest.version)
    restart()
    waited = _wait_healthy(health_file, manifest.version, switched_at, timeout_s, poll_s, clock, sleep)
    if waited is None:
        log.error("release %s did not report healthy within %.0f s; rolling back", manifest.version, timeout_s)
        releases.rollback_to(old)
        restart()
        return UpdateResult(manifest.version, old, False, timeout_s)
    log.info("release %s healthy after %.1f s", manifest.version, waited)
    return UpdateResult(manifest.version, old, True, waited, tuple(releases.prune()))


def _wait_healthy(health_file: Path, version: str, since: float, timeout_s: float, poll_s: float,
                  clock: Callable[[], float], sleep: Callable[[float], None]) -> float | None:
    """Seconds until the mark names `version` with a time after `since`; None on timeout."""
    while True:
        mark = read_mark(health_file)
        if mark and mark.get("version") == version and float(mark.get("at", 0)) >= since:
            return clock() - since
        if clock() - since >= timeout_s:
            return None
        sleep(poll_s)


def require_installed(root: Path) -> Releases:
    """The releases under `root`, refusing a root that does not exist (a typo must not create one)."""
    if not root.is_dir():
        raise UpdateError(f"update root {root} does not exist; the device image creates it (update.root)")
    return Releases(root)
