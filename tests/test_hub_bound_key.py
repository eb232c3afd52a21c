"""The hub-bound store key (POLICY DS-5): a stolen device off its network cannot open its own store.

The master key sits on disk only wrapped under a secret the hub hands to the enrolled
device certificate over mutual TLS (`GET /api/v1/device-secret`); the device keeps it in
memory. Real encrypted stores, a real HTTPS recording hub and a throw-away CA (tests/pki.py).
"""

from __future__ import annotations

import os
import secrets
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from appliance.config import build
from appliance.errors import StoreError
from appliance.hub.device_secret import DeviceSecretError, bind_store_to_hub, hub_bound_key, store_keys
from appliance.hub.testhub import RecordingHub
from appliance.ids import uuid7
from appliance.store import HubBoundKey, LocalKeyFile, Store
from appliance.store.admin import wipe
from appliance.store.keys import default_hub_key_path
from pki import Pki
from test_store import T0, make_read, pattern

SECRET = secrets.token_bytes(32)


_READS: dict[int, object] = {}


def read(i: int):
    """Read number i, the same object (and id) each time it is asked for."""
    if i not in _READS:
        at = T0 + timedelta(seconds=i)
        _READS[i] = make_read(f"BND{i:04d}", at, id=uuid7(int(at.timestamp() * 1000)), crop=pattern(16, 48, i),
                              frame=pattern(24, 32, i))
    return _READS[i]


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def hub(pki: Pki):
    cert = pki.server()
    with RecordingHub(tls=(cert.cert, cert.key), client_ca=pki.ca_file, device_secrets={"dev-1": SECRET}) as h:
        yield h


def config(hub: RecordingHub, pki: Pki, device: str = "dev-1", ca: Pki | None = None):
    issued = (ca or pki).device(device)
    return build({"device": {"id": device}, "store": {"unlock": "hub"},
                  "hub": {"url": hub.url, "ca_file": str(pki.ca_file), "client_cert": str(issued.cert),
                          "client_private_pem": str(issued.key)}}, {})


def test_a_hub_bound_store_opens_with_the_hub_up_and_keeps_no_key_in_the_clear(tmp_path: Path, hub, pki) -> None:
    """DS-5: only the wrapped key is on disk; the secret came over mutual TLS to the enrolled certificate."""
    keys = store_keys(config(hub, pki))
    assert isinstance(keys, HubBoundKey) and keys.path == default_hub_key_path()
    with Store.open(tmp_path / "store", keys=keys) as s:
        s.add_read(read(1))
    assert hub.secret_requests == ["dev-1"]
    assert not LocalKeyFile().exists()  # no plain key file was made
    blob = keys.path.read_bytes()
    assert SECRET not in blob and stat.S_IMODE(keys.path.stat().st_mode) == 0o600
    with Store.open(tmp_path / "store", keys=hub_bound_key(config(hub, pki))) as s:  # a restart, hub up
        assert s.count() == 1 and s.image_bytes(read(1).id, "crop")


def test_without_the_hub_the_store_cannot_be_opened(tmp_path: Path, hub, pki) -> None:
    """The stolen device: same files, same certificate, no hub on its network."""
    with Store.open(tmp_path / "store", keys=store_keys(config(hub, pki))) as s:
        s.add_read(read(1))
    hub.down()
    with pytest.raises(DeviceSecretError, match="the store is bound to the hub and the hub did not hand out the "
                                                "device secret: could not reach the hub: connection refused"):
        Store.open(tmp_path / "store", keys=store_keys(config(hub, pki)))


@pytest.mark.parametrize("who, cause", [
    ("dev-9", "the hub refused this device \\(HTTP 403\\)"),  # the hub's CA signed it, but it is not enrolled
    ("other-ca", "the hub closed the connection during the TLS handshake|certificate"),
    ("no-cert", "HTTP 401"),
])
def test_a_wrong_device_certificate_gets_no_secret(tmp_path: Path, hub, pki, tmp_path_factory, who, cause) -> None:
    with Store.open(tmp_path / "store", keys=store_keys(config(hub, pki))) as s:
        s.add_read(read(1))
    if who == "other-ca":
        cfg = config(hub, pki, "dev-1", ca=Pki(tmp_path_factory.mktemp("other"), "Thief CA"))
    elif who == "no-cert":
        cfg = build({"hub": {"url": hub.url, "ca_file": str(pki.ca_file)}}, {})
    else:
        cfg = config(hub, pki, who)
    with pytest.raises(DeviceSecretError, match=cause):
        Store.open(tmp_path / "store", keys=hub_bound_key(cfg))


def test_a_secret_that_is_not_this_stores_does_not_open_it(tmp_path: Path, hub, pki) -> None:
    """Re-enrolled under a new secret (or another device's key file): a clear error, nothing written."""
    with Store.open(tmp_path / "store", keys=store_keys(config(hub, pki))) as s:
        s.add_read(read(1))
    hub.device_secrets["dev-1"] = secrets.token_bytes(32)
    with pytest.raises(StoreError, match="does not unwrap the hub-bound store key file"):
        Store.open(tmp_path / "store", keys=store_keys(config(hub, pki)))


def test_a_running_device_rides_out_a_hub_outage(tmp_path: Path, hub, pki) -> None:
    """The unwrapped key stays in memory: reads go on being stored and shown, and the store reopens in-process."""
    keys = store_keys(config(hub, pki))
    s = Store.open(tmp_path / "store", keys=keys)
    try:
        s.add_read(read(1))
        hub.down()
        s.add_read(read(2))
        assert s.count() == 2 and s.image_bytes(read(2).id, "crop")
    finally:
        s.close()
    with Store.open(tmp_path / "store", keys=keys) as again:  # e.g. a restarted writer, same process
        assert again.count() == 2
    assert len(hub.secret_requests) == 1
    keys.forget()
    with pytest.raises(DeviceSecretError, match="did not hand out the device secret"):
        Store.open(tmp_path / "store", keys=keys)


def test_binding_a_local_store_to_the_hub(tmp_path: Path, hub, pki) -> None:
    """`alpr store bind-hub`: same database, the key file shredded, from then on the hub's secret is needed."""
    with Store.open(tmp_path / "store") as s:  # local mode, conftest's key folder
        s.add_read(read(1))
    local = LocalKeyFile()
    assert local.exists()
    cfg = config(hub, pki)
    path = bind_store_to_hub(cfg)
    assert path.exists() and not local.exists()
    with Store.open(tmp_path / "store", keys=store_keys(cfg)) as s:
        assert s.count() == 1 and s.image_bytes(read(1).id, "crop")
    with pytest.raises(StoreError, match="already bound to the hub"):
        bind_store_to_hub(cfg)
    hub.down()
    with pytest.raises(DeviceSecretError):
        Store.open(tmp_path / "store", keys=store_keys(cfg))
    with pytest.raises(StoreError, match="store key file .* is missing"):  # and the local key is gone for good
        Store.open(tmp_path / "store", keys=LocalKeyFile())
    report = wipe(tmp_path / "store", LocalKeyFile(), confirm=True)  # `alpr store wipe` takes the bound key too
    assert str(path) in report.destroyed and not path.exists()


def test_binding_fails_safe_when_the_hub_refuses(tmp_path: Path, hub, pki) -> None:
    with Store.open(tmp_path / "store") as s:
        s.add_read(read(1))
    with pytest.raises(DeviceSecretError, match="HTTP 403"):
        bind_store_to_hub(config(hub, pki, "dev-9"))
    assert LocalKeyFile().exists() and not default_hub_key_path().exists()
    with Store.open(tmp_path / "store") as s:
        assert s.count() == 1


def test_the_hub_bound_key_file_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "store.key.hub"
    keys = HubBoundKey(path, lambda: SECRET)
    with pytest.raises(StoreError, match="hub-bound store key file .* is missing"):
        keys.load()
    keys.load(create=True)
    os.chmod(path, 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        HubBoundKey(path, lambda: SECRET).load()
    os.chmod(path, 0o600)
    path.write_bytes(b"not a key")
    with pytest.raises(StoreError, match="not a hub-bound store key file"):
        HubBoundKey(path, lambda: SECRET).load()


def test_local_is_the_default_and_hub_mode_needs_the_device_certificate() -> None:
    assert isinstance(store_keys(build({}, {})), LocalKeyFile)
    with pytest.raises(ValueError, match="store.unlock = 'hub' needs hub.url and the device certificate"):
        build({"store": {"unlock": "hub"}, "hub": {"url": "https://hub.example"}}, {})


def test_the_bind_hub_command(tmp_path: Path, hub, pki, capsys) -> None:
    """`alpr store bind-hub --config FILE`: the store in the config is bound; then unlock = "hub" opens it."""
    import argparse

    from appliance.config import load_config
    from appliance.runtime import open_store
    from appliance.store.command import bind_hub
    device = pki.device("dev-1")
    toml = tmp_path / "alpr.toml"
    base = (f'[store]\npath = "{tmp_path / "store"}"\n{{unlock}}[hub]\nurl = "{hub.url}"\nca_file = "{pki.ca_file}"\n'
            f'client_cert = "{device.cert}"\nclient_private_pem = "{device.key}"\n')
    toml.write_text(base.format(unlock=""))
    with open_store(load_config(toml, {})) as s:
        s.add_read(read(1))
    assert bind_hub(argparse.Namespace(config=str(toml), store=None, key_file=None)) == 0
    assert "store key bound to the hub" in capsys.readouterr().out and not LocalKeyFile().exists()
    toml.write_text(base.format(unlock='unlock = "hub"\n'))
    with open_store(load_config(toml, {})) as s:
        assert s.count() == 1


def test_admin_commands_open_a_hub_bound_store_with_the_hubs_secret(tmp_path: Path, hub, pki) -> None:
    """`alpr user`, `alpr hub token`, `alpr audit` open the store through open_target: unlock = "hub" is honoured."""
    import argparse

    from appliance.store.target import open_target
    device = pki.device("dev-1")
    toml = tmp_path / "alpr.toml"
    toml.write_text(f'[store]\npath = "{tmp_path / "store"}"\nunlock = "hub"\n[hub]\nurl = "{hub.url}"\n'
                    f'ca_file = "{pki.ca_file}"\nclient_cert = "{device.cert}"\nclient_private_pem = "{device.key}"\n')
    with open_target(argparse.Namespace(config=str(toml), store=None, key_file=None)) as s:
        s.add_read(read(1))
    assert hub.secret_requests == ["dev-1"] and not LocalKeyFile().exists()
    hub.down()
    with pytest.raises(DeviceSecretError):
        open_target(argparse.Namespace(config=str(toml), store=None, key_file=None))


def test_the_device_secret_request_carries_the_certificate_only_never_the_bearer_token(tmp_path: Path, hub, pki) -> None:
    """DS-5: the secret is handed to the enrolled certificate; the hub token must not ride along."""
    from appliance.hub.tls import session_from_config

    token = tmp_path / "hub-token"
    token.write_text("push-token-123\n")
    token.chmod(0o600)
    cfg = config(hub, pki)
    cfg = build({"device": {"id": "dev-1"}, "store": {"unlock": "hub"},
                 "hub": {"url": hub.url, "ca_file": str(pki.ca_file), "client_cert": str(cfg.hub.client_cert),
                         "client_private_pem": str(cfg.hub.client_private_pem), "bearer_file": str(token)}}, {})
    assert "Authorization" in session_from_config(cfg.hub).headers  # the forwarder's session has it
    assert "Authorization" not in hub_bound_key(cfg)._fetch.session.headers
