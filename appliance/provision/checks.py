"""What every provisioning step returns (a Check) and where provisioning writes (a Layout).

A check is ok, failed (with the reason) or skipped (with the reason): the report shows
all three, because an installer who sees only green ticks cannot tell "done" from "not
attempted". Skipped is never used to hide a failure: features of later issues say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OK, FAILED, SKIPPED = "ok", "failed", "skipped"

CONFIG_FILE = Path("/etc/alpr/alpr.toml")
KEY_FOLDER = Path("/var/lib/alpr-keys")  # keys apart from the data (POLICY DS-3)
PROVISION_FOLDER = Path("/var/lib/alpr/provision")
DEVICE_CERT = KEY_FOLDER / "device.crt"  # issued by the hub at enrolment, renewed before expiry
HUB_CA = KEY_FOLDER / "hub-ca.pem"  # the hub's CA, pinned by its fingerprint at enrolment


@dataclass(frozen=True)
class Check:
    """The outcome of one step: `status` is ok, failed or skipped; `detail` says why or what."""

    name: str
    status: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)  # shown in the report (never a secret)

    @property
    def failed(self) -> bool:
        return self.status == FAILED


def ok(name: str, detail: str, **facts: Any) -> Check:
    return Check(name, OK, detail, facts)


def failed(name: str, detail: str, **facts: Any) -> Check:
    return Check(name, FAILED, detail, facts)


def skipped(name: str, detail: str, **facts: Any) -> Check:
    return Check(name, SKIPPED, detail, facts)


@dataclass(frozen=True)
class Layout:
    """Every system path provisioning touches, under `root` (`/` on a device, a folder for tests and images)."""

    root: Path = Path("/")

    def system(self, path: Path | str) -> Path:
        """`path` (absolute, as the device sees it) under the root."""
        p = Path(path)
        return self.root / p.relative_to(p.anchor) if p.is_absolute() else self.root / p

    @property
    def config_file(self) -> Path:
        return self.system(CONFIG_FILE)

    @property
    def store_key(self) -> Path:
        return self.system(KEY_FOLDER / "store.key")

    @property
    def device_key(self) -> Path:
        return self.system(KEY_FOLDER / "device.key")

    @property
    def device_cert(self) -> Path:
        return self.system(DEVICE_CERT)

    @property
    def hub_ca(self) -> Path:
        return self.system(HUB_CA)

    @property
    def provision_folder(self) -> Path:
        return self.system(PROVISION_FOLDER)

    @property
    def device_csr(self) -> Path:
        return self.provision_folder / "device.csr"

    @property
    def report_json(self) -> Path:
        return self.provision_folder / "report.json"

    @property
    def report_html(self) -> Path:
        return self.provision_folder / "report.html"

    def store_folder(self, store_path: Path) -> Path:
        return self.system(store_path)

    def tls_folder(self, store_path: Path) -> Path:
        """Where `alpr serve` looks for its certificate (serve.tls_folder), under this layout's root."""
        from appliance.serve import tls_folder  # the web server's module: only provisioning needs it here
        return self.system(tls_folder(store_path))
