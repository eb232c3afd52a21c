"""The hub-bound store key's other half (POLICY DS-5): the device secret, fetched from the hub, never stored.

`GET {hub}/api/v1/device-secret` over mutual TLS answers `{"secret": "<base64>"}` to an
enrolled device certificate only (DESIGN.md "Hub API"). `DeviceSecret` is the callable
`store.keys.HubBoundKey` asks when it must unwrap the store's master key; every failure
becomes one StoreError that says the store is bound to the hub and why the hub did not
hand out the secret, so `alpr run` stops with a sentence, not a traceback.

`store_keys(cfg)` picks the key provider for `store.unlock` ("local" | "hub"), and
`bind_store_to_hub(cfg)` converts a local-mode store (store.keys.bind_to_hub).
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

import requests

from appliance.errors import StoreError
from appliance.hub.tls import describe_failure, describe_status, session_from_config
from appliance.store.keys import HubBoundKey, KeyProvider, LocalKeyFile, bind_to_hub

log = logging.getLogger(__name__)

SECRET_PATH = "/api/v1/device-secret"
_BOUND = "the store is bound to the hub and the hub did not hand out the device secret"


class DeviceSecretError(StoreError):
    """The hub did not hand out the device secret: the hub-bound store cannot be opened."""


class DeviceSecret:
    """Fetches this device's secret from the hub through `session` (mutual TLS, the hub's CA pinned)."""

    def __init__(self, session: requests.Session, hub_url: str, timeout_s: float = 10.0) -> None:
        self.session, self.url, self.timeout_s = session, hub_url.rstrip("/") + SECRET_PATH, timeout_s

    def __call__(self) -> bytes:
        """The secret's bytes; DeviceSecretError naming the cause when the hub is unreachable or refuses."""
        try:
            r = self.session.get(self.url, timeout=self.timeout_s)
        except requests.RequestException as e:
            raise DeviceSecretError(f"{_BOUND}: {describe_failure(e)}") from None
        if r.status_code != 200:
            raise DeviceSecretError(f"{_BOUND}: {describe_status(r.status_code)}")
        try:
            secret = base64.b64decode(r.json()["secret"], validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise DeviceSecretError(f"{_BOUND}: its answer has no base64 \"secret\" field") from None
        log.info("the hub handed out the device secret (kept in memory only)")
        return secret


def hub_bound_key(cfg, path: Path | None = None) -> HubBoundKey:
    """The HubBoundKey for `cfg` (store.unlock = "hub"): the device certificate fetches the secret."""
    session = session_from_config(cfg.hub, with_token=False)  # the device secret goes to the certificate only
    return HubBoundKey(path, DeviceSecret(session, cfg.hub.url), source=cfg.hub.url)


def store_keys(cfg) -> KeyProvider:
    """The key provider `store.unlock` names: the key file (local) or the hub-bound key (hub)."""
    if cfg.store.unlock == "hub":
        return hub_bound_key(cfg)
    return LocalKeyFile()


def bind_store_to_hub(cfg, local: LocalKeyFile | None = None, hub: HubBoundKey | None = None) -> Path:
    """`alpr store bind-hub`: wrap the local store key under the hub's secret and shred the key file."""
    return bind_to_hub(local or LocalKeyFile(), hub or hub_bound_key(cfg))
