"""Enrolment at the pole and certificate renewal over EST (issue #12), against the recording hub
serving real HTTPS on loopback with a throwaway CA (appliance/hub/enrolment_ca.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from appliance import users
from appliance.config import load_config
from appliance.hub.enrolment_ca import EnrolmentCA
from appliance.hub.testhub import RecordingHub
from appliance.provision.certs import load_or_make_key
from appliance.provision.command import main
from appliance.provision.enrol import EnrolmentError, enrol, expiry, fetch_pinned_ca, renew

from tests.test_provision import ANSWERS, answers


def _serve(tmp_path: Path, ca: EnrolmentCA, server_ca: EnrolmentCA | None = None) -> RecordingHub:
    """The hub on 127.0.0.1 with a certificate from `server_ca` (default: its own CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (server_ca or ca).issue_server_cert("127.0.0.1", key)
    (tmp_path / "hub.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "hub.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    hub = RecordingHub(tls=(tmp_path / "hub.crt", tmp_path / "hub.key"), client_ca=ca.write_ca(tmp_path / "ca.pem"))
    hub.enrolment_ca = ca
    return hub.start()


@pytest.fixture
def ca() -> EnrolmentCA:
    return EnrolmentCA.create()


def _provision(tmp_path: Path, hub: RecordingHub, fingerprint: str, token: str, *extra: str,
               more: str = "") -> tuple[int, list[str]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "token").write_text(token + "\n")
    answers_file = tmp_path / "answers.toml"
    answers_file.write_text(answers(ANSWERS + more) + f'[hub]\nurl = "{hub.url}"\n[enrol]\nca_sha256 = "{fingerprint}"\n'
                                 f'token_file = "{tmp_path / "token"}"\n')
    lines: list[str] = []
    rc = main(["provision", "--root", str(tmp_path / "root"), "--answers", str(answers_file), *extra],
              out=lines.append, hasher=users.cheap_hasher())
    return rc, lines


def test_provision_enrols_the_device_and_points_the_config_at_the_pinned_ca(tmp_path, ca):
    with _serve(tmp_path, ca) as hub:
        rc, lines = _provision(tmp_path, hub, ca.fingerprint(), ca.issue_token())
    assert rc == 0, "\n".join(lines)
    root = tmp_path / "root"
    cert = x509.load_pem_x509_certificate((root / "var/lib/alpr-keys/device.crt").read_bytes())
    cert.verify_directly_issued_by(ca.cert)
    key, made = load_or_make_key(root / "var/lib/alpr-keys/device.key")
    assert not made and cert.public_key() == key.public_key()  # the key made on the device, never sent
    assert cert.subject.rfc4514_string() == "CN=main-and-1st"
    assert (root / "var/lib/alpr-keys/hub-ca.pem").read_bytes() == ca.cert.public_bytes(serialization.Encoding.PEM)
    cfg = load_config(root / "etc/alpr/alpr.toml", {})
    assert str(cfg.hub.ca_file) == "/var/lib/alpr-keys/hub-ca.pem"
    assert str(cfg.hub.client_cert) == "/var/lib/alpr-keys/device.crt"
    report = json.loads((root / "var/lib/alpr/provision/report.json").read_text())
    check = next(c for c in report["checks"] if c["name"] == "hub enrolment")
    assert check["status"] == "ok" and "with the hub CA pinned and the device certificate offered: ok" in check["detail"]
    assert check["facts"]["device_certificate_sha256"] == cert.fingerprint(hashes.SHA256()).hex(":")


def test_a_used_token_and_a_wrong_fingerprint_stop_provisioning_with_a_clear_message(tmp_path, ca):
    token = ca.issue_token()
    with _serve(tmp_path, ca) as hub:
        wrong = "00:" * 31 + "00"
        rc, lines = _provision(tmp_path / "a", hub, wrong, token)
        assert rc == 2 and any("[FAILED] hub enrolment" in l and "not the pinned" in l for l in lines), lines
        assert ca.issued == []  # nothing was sent to a hub that did not show the pinned CA
        rc, lines = _provision(tmp_path / "b", hub, ca.fingerprint(), token)
        assert rc == 0, lines  # the token is still unused: the wrong-fingerprint run sent nothing
        rc, lines = _provision(tmp_path / "c", hub, ca.fingerprint(), token)
        assert rc == 2 and any("refused the enrolment (401" in l for l in lines), lines


def test_a_hub_whose_certificate_is_not_from_the_pinned_ca_is_refused(tmp_path, ca):
    impostor = EnrolmentCA.create("someone else")
    with _serve(tmp_path, ca, server_ca=impostor) as hub:
        rc, lines = _provision(tmp_path, hub, ca.fingerprint(), ca.issue_token())
    assert rc == 2 and any("[FAILED] hub enrolment" in l and "certificate" in l for l in lines), lines
    assert ca.issued == []


def test_renewal_uses_the_current_certificate_and_keeps_the_key(tmp_path, ca):
    with _serve(tmp_path, ca) as hub:
        ca_file = tmp_path / "pinned.pem"
        fetch_pinned_ca(hub.url, ca.fingerprint(), ca_file)
        key, _ = load_or_make_key(tmp_path / "device.key")
        first = enrol(hub.url, ca_file, key, "pole-7", ca.issue_token(), tmp_path / "device.crt")
        second = renew(hub.url, ca_file, tmp_path / "device.key", tmp_path / "device.crt")
        assert second.serial_number != first.serial_number and second.public_key() == key.public_key()
        assert x509.load_pem_x509_certificate((tmp_path / "device.crt").read_bytes()) == second
        # a certificate from elsewhere cannot renew
        other = EnrolmentCA.create("other")
        stranger = other._sign(first.subject, key.public_key(), [], x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
        (tmp_path / "stranger.crt").write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
        with pytest.raises(EnrolmentError):
            renew(hub.url, ca_file, tmp_path / "device.key", tmp_path / "stranger.crt")


def test_expiry_warns_thirty_days_ahead(tmp_path, ca):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue_server_cert("127.0.0.1", key)
    path = tmp_path / "c.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    soon = cert.not_valid_after_utc - timedelta(days=10)
    assert expiry(path, soon).warning.startswith(f"{path} expires in 10 days")
    assert expiry(path, cert.not_valid_after_utc + timedelta(days=1)).warning.endswith("expired on "
                                                                                     f"{cert.not_valid_after_utc:%Y-%m-%d}")
    assert expiry(path, datetime.now(timezone.utc)).warning is None


def test_renew_due_renews_the_device_and_ui_certificates_only_when_within_thirty_days(tmp_path, ca):
    from appliance.config import build
    from appliance.provision.renewal import certificate_expiries, renew_due, ui_certificate_folder
    from appliance.serve import CERT_NAME, ensure_self_signed
    with _serve(tmp_path, ca) as hub:
        ca_file = tmp_path / "pinned.pem"
        fetch_pinned_ca(hub.url, ca.fingerprint(), ca_file)
        key, _ = load_or_make_key(tmp_path / "device.key")
        first = enrol(hub.url, ca_file, key, "pole-7", ca.issue_token(), tmp_path / "device.crt")
        cfg = build({"store": {"path": str(tmp_path / "data" / "store")}, "web": {"tls": True},
                     "hub": {"url": hub.url, "ca_file": str(ca_file), "client_cert": str(tmp_path / "device.crt"),
                             "client_private_pem": str(tmp_path / "device.key")}}, {})
        ui_cert, _ = ensure_self_signed(ui_certificate_folder(cfg), "127.0.0.1")
        ui_before = ui_cert.read_bytes()
        assert renew_due(cfg) == [] and x509.load_pem_x509_certificate((tmp_path / "device.crt").read_bytes()) == first
        assert {e.path.name for e in certificate_expiries(cfg)} == {"device.crt", CERT_NAME}
        late = first.not_valid_after_utc - timedelta(days=20)  # the device certificate is due, the UI's is not
        done = renew_due(cfg, late)
        assert len(done) == 1 and done[0].startswith(f"device certificate {tmp_path / 'device.crt'} renewed")
        assert x509.load_pem_x509_certificate((tmp_path / "device.crt").read_bytes()).serial_number != first.serial_number
        assert ui_cert.read_bytes() == ui_before
        ui_end = x509.load_pem_x509_certificate(ui_before).not_valid_after_utc
        done = renew_due(cfg, ui_end - timedelta(days=5))  # both due now: the UI certificate is made anew
        assert any(d.startswith("web UI certificate") for d in done) and ui_cert.read_bytes() != ui_before
        hub.down()
        with pytest.raises(EnrolmentError):  # due and the hub is gone: a loud failure, the old certificate kept
            renew_due(cfg, ui_end - timedelta(days=5))


def test_provision_in_hub_mode_binds_the_store_key_to_the_hub(tmp_path, ca):
    """DS-5: after provisioning the key file is gone; the store opens only while the hub hands
    this device's certificate its secret."""
    from appliance.hub.device_secret import DeviceSecret
    from appliance.hub.tls import hub_session
    from appliance.store import Store
    from appliance.store.keys import HubBoundKey
    root = tmp_path / "root"
    keys = root / "var/lib/alpr-keys"
    with _serve(tmp_path, ca) as hub:
        hub.device_secrets["main-and-1st"] = b"s" * 32
        rc, lines = _provision(tmp_path, hub, ca.fingerprint(), ca.issue_token(), more='[keys]\nmode = "hub"\n')
        assert rc == 0, "\n".join(lines)
        assert not (keys / "store.key").exists() and (keys / "store.key.hub").is_file()
        assert load_config(root / "etc/alpr/alpr.toml", {}).store.unlock == "hub"
        session = hub_session(hub.url, ca_file=keys / "hub-ca.pem", client_cert=keys / "device.crt",
                              client_key=keys / "device.key")
        bound = HubBoundKey(keys / "store.key.hub", DeviceSecret(session, hub.url))
        with Store.open(root / "var/lib/alpr/store", keys=bound) as s:
            assert s.count() == 0
        hub.down()
        with pytest.raises(Exception, match="did not hand out the device secret"):
            Store.open(root / "var/lib/alpr/store", keys=HubBoundKey(keys / "store.key.hub",
                                                                     DeviceSecret(session, hub.url)))


def test_a_renewed_file_keeps_the_owner_of_the_one_it_replaces(tmp_path):
    """The renewal timer runs as root; the alpr user must still read what it wrote."""
    import os

    from appliance.atomic_file import keep_owner
    old, new = tmp_path / "old.crt", tmp_path / "new.crt"
    old.write_text("old")
    new.write_text("new")
    os.chown(old, 1234, 2345)
    keep_owner(new, old)
    assert (new.stat().st_uid, new.stat().st_gid) == (1234, 2345)
    keep_owner(new, tmp_path / "absent.crt")  # a first certificate: nothing to copy, no error


def test_the_pinned_fingerprint_is_read_as_openssl_and_qr_codes_write_it(tmp_path, ca):
    """Colons, spaces and capitals are allowed (the rules of client_certs.normalise_fingerprint); a garbled
    fingerprint is named as such, not as a wrong hub."""
    with _serve(tmp_path, ca) as hub:
        plain = ca.fingerprint().replace(":", "").lower()
        spaced = " ".join(plain[i:i + 2].upper() for i in range(0, 64, 2))
        assert fetch_pinned_ca(hub.url, spaced, tmp_path / "a.pem").fingerprint(hashes.SHA256()).hex() == plain
        with pytest.raises(EnrolmentError, match="64 hex digits"):
            fetch_pinned_ca(hub.url, plain[:-1], tmp_path / "b.pem")
        assert not (tmp_path / "b.pem").exists()
