"""Evidence export (POLICY RT-4, AC-10, LG-1): a case's held reads as a signed archive that verifies,
and fails verification, naming the problem, after a changed byte, a removed file or a forged signature.

Real encrypted stores, real keys (EC P-256), the real `alpr evidence` command in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from appliance import totp
from appliance.audit import evidence, holds, records, signing
from appliance.audit.holds import Actor
from appliance.errors import EvidenceError
from test_access_control import PASSWORD, clock, folder, secret_of, sign_in, store_of  # noqa: F401
from test_holds import WHY, app, three  # noqa: F401 - the app fixture with an agency
from test_store import open_store

REPO = Path(__file__).resolve().parents[1]
SUP = Actor("sup", "10.0.0.7", "CA0010000")


@pytest.fixture
def signer(tmp_path: Path) -> signing.Signer:
    return signing.load_signer(tmp_path / "device-keys")


@pytest.fixture
def archive(tmp_path: Path, signer) -> tuple[bytes, list[str], evidence.ExportReport]:
    with open_store(tmp_path / "store") as s:
        a, b, _ = three(s)
        holds.place(s, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a, b], actor=SUP)
        out: list[bytes] = []
        report = evidence.export(s, "24-001234", reason="booked into evidence for the trial", actor=SUP,
                                 write=out.append, signer=signer)
        assert records.verify(s)[0]
    return out[0], [a, b], report


def rewrite(data: bytes, change) -> bytes:
    """The archive with its members passed through `change(name, bytes) -> bytes | None` (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            new = change(name, src.read(name))
            if new is not None:
                dst.writestr(name, new)
    return out.getvalue()


def test_an_export_holds_images_metadata_manifest_signature_and_custody(archive, signer) -> None:
    """RT-4: original images, metadata JSON per read, SHA-256 manifest, signature, chain of custody."""
    data, (a, b), report = archive
    z = zipfile.ZipFile(io.BytesIO(data))
    names = set(z.namelist())
    for i in (a, b):
        assert {f"reads/{i}/crop.jpg", f"reads/{i}/frame.jpg", f"reads/{i}/metadata.json"} <= names
        assert z.read(f"reads/{i}/crop.jpg")[:3] == b"\xff\xd8\xff"  # decrypted JPEG, as stored
        meta = json.loads(z.read(f"reads/{i}/metadata.json"))
        assert meta["id"] == i and meta["hold"] is True and meta["text"] in ("HELD1", "HELD2")
    assert {"case.json", "custody.json", "device-key.pem", "manifest.sha256", "manifest.sig"} <= names
    [custody] = json.loads(z.read("custody.json"))
    assert (custody["by"], custody["case_number"]) == ("sup", "24-001234")
    assert custody["access_record"] == report.access_record
    assert custody["reason"] == "booked into evidence for the trial" and custody["at"].endswith("Z")
    assert json.loads(z.read("case.json"))["device_key_fingerprint"] == signer.fingerprint
    assert len(z.read("manifest.sha256").decode().splitlines()) == len(names) - 2
    assert report.read_ids == tuple(sorted([a, b]))
    verdict = evidence.verify(data, signer.public_pem)
    assert verdict.ok and verdict.problem is None and verdict.fingerprint == signer.fingerprint


def test_the_export_is_an_access_record(tmp_path: Path, archive) -> None:
    """LG-1: the export is in the chain, with case, reason and the reads exported."""
    _, ids, report = archive
    with open_store(tmp_path / "store") as s:
        rec = records.get(s, report.access_record)
    assert (rec.action, rec.username, rec.case_number, rec.purpose_text) == \
        ("evidence export", "sup", "24-001234", "booked into evidence for the trial")
    assert sorted(rec.result_ids) == sorted(ids)


def _first(data: bytes, suffix: str) -> str:
    return next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith(suffix))


def test_a_changed_byte_fails_naming_the_file(archive) -> None:
    data, _, _ = archive
    crop = _first(data, "crop.jpg")
    bad = rewrite(data, lambda n, b: b[:100] + bytes([b[100] ^ 1]) + b[101:] if n == crop else b)
    verdict = evidence.verify(bad)
    assert not verdict.ok and verdict.problem == f"{crop}: its SHA-256 does not match the manifest (changed)"


def test_a_removed_file_fails_naming_it(archive) -> None:
    data, _, _ = archive
    meta = _first(data, "metadata.json")
    verdict = evidence.verify(rewrite(data, lambda n, b: None if n == meta else b))
    assert not verdict.ok
    assert verdict.problem == f"{meta} is listed in the manifest but missing from the archive (removed)"


def test_an_added_file_fails(archive) -> None:
    data, _, _ = archive
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr("reads/extra.jpg", b"\xff\xd8\xff planted")
    verdict = evidence.verify(out.getvalue())
    assert not verdict.ok and verdict.problem == "reads/extra.jpg is in the archive but not in the manifest (added)"


def test_a_forged_signature_fails(archive) -> None:
    """A manifest re-signed by another key under the archive's own public key does not verify."""
    data, _, _ = archive
    other = signing.Signer(ec.generate_private_key(ec.SECP256R1()), Path("elsewhere"))
    forged = rewrite(data, lambda n, b: (other.sign(b"x") + "\n").encode() if n == "manifest.sig" else b)
    verdict = evidence.verify(forged)
    assert not verdict.ok and "signature does not verify with the archive's device key" in verdict.problem


def test_a_rebuilt_archive_with_another_key_passes_integrity_but_not_origin(archive, signer) -> None:
    """Why --key matters: an archive re-made and re-signed with a new key is self-consistent."""
    data, _, _ = archive
    other = signing.Signer(ec.generate_private_key(ec.SECP256R1()), Path("elsewhere"))
    z = zipfile.ZipFile(io.BytesIO(data))
    files = {n: z.read(n) for n in z.namelist() if n not in ("manifest.sha256", "manifest.sig")}
    files["device-key.pem"] = other.public_pem.encode()
    files[_first(data, "crop.jpg")] = b"\xff\xd8\xff a different picture"
    manifest = evidence.manifest_of(files)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for n, b in {**files, "manifest.sha256": manifest, "manifest.sig": other.sign(manifest).encode()}.items():
            dst.writestr(n, b)
    assert evidence.verify(out.getvalue()).ok  # integrity only
    verdict = evidence.verify(out.getvalue(), signer.public_pem)
    assert not verdict.ok and "not by the given device key" in verdict.problem


def test_export_needs_a_hold_on_the_case(tmp_path: Path, signer) -> None:
    with open_store(tmp_path / "store") as s:
        three(s)
        with pytest.raises(EvidenceError, match="no legal hold names case 24-999999"):
            evidence.export(s, "24-999999", reason="booked into evidence", actor=SUP, write=lambda d: None,
                            signer=signer)
        assert records.latest(s) == []


def test_no_record_no_archive(tmp_path: Path, signer) -> None:
    """LG-4: when the access record cannot be written, nothing is handed out."""
    with open_store(tmp_path / "store") as s:
        a, _, _ = three(s)
        holds.place(s, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[a], actor=SUP)
        s.database.execute_sql("CREATE TRIGGER refuse BEFORE INSERT ON access_records "
                               "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        out: list[bytes] = []
        with pytest.raises(Exception, match="disk says no"):
            evidence.export(s, "24-001234", reason="booked into evidence", actor=SUP, write=out.append, signer=signer)
        assert out == []


def test_the_signing_key_is_made_once_and_the_device_key_preferred(tmp_path: Path) -> None:
    first = signing.load_signer(tmp_path / "k")
    assert first.path.name == "signing.key" and oct(first.path.stat().st_mode & 0o777) == "0o600"
    assert signing.load_signer(tmp_path / "k").fingerprint == first.fingerprint
    from appliance.provision.certs import load_or_make_key
    load_or_make_key(tmp_path / "k" / "device.key")  # provisioned later: the device key signs from now on
    assert signing.load_signer(tmp_path / "k").path.name == "device.key"
    assert signing.device_public_key(tmp_path / "k") is not None
    assert signing.device_public_key(tmp_path / "none") is None


# -- the command line and the UI ----------------------------------------------------------------------------

def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance.audit.evidence_command", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def test_the_commands_export_after_sign_in_and_verify(folder, tmp_path: Path) -> None:  # noqa: F811
    """AC-10: the export needs a named, signed-in holder; verify exits 0 intact, 1 not, naming the problem."""
    from appliance.store import Store
    with Store.open(folder) as s:
        read_id = s.latest_reads(1)[0].id
        holds.place(s, case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[read_id], actor=SUP)
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    out, keys = tmp_path / "case.zip", tmp_path / "device-keys"
    base = ["export", "--case", "24-001234", "--out", str(out), "--reason", "booked into evidence for trial",
            "--store", str(folder), "--signing-key-folder", str(keys), "--password-file", str(tmp_path / "pw")]
    code = totp.code_at(secret_of("op"), totp.step_of(datetime.now(timezone.utc)))
    r = run(*base, "--user", "op", "--totp", code)
    assert r.returncode == 2 and "role (operator) does not give access" in r.stderr and not out.exists(), r.stderr
    code = totp.code_at(secret_of("sup"), totp.step_of(datetime.now(timezone.utc)))
    r = run(*base, "--user", "sup", "--totp", code)
    assert r.returncode == 0 and "1 read(s) of case 24-001234" in r.stdout, r.stderr
    (keys / "device.pem").write_text(signing.load_signer(keys).public_pem)
    r = run("verify", str(out), "--key", str(keys / "device.pem"))
    assert r.returncode == 0 and "intact" in r.stdout and "signed by the given device key" in r.stdout, r.stderr
    assert "origin" in run("verify", "--help").stdout  # the help says what a carried key does not prove
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(out.read_bytes(), lambda n, b: b + b"!" if n == "custody.json" else b))
    r = run("verify", str(bad))
    assert r.returncode == 1 and "custody.json: its SHA-256 does not match the manifest (changed)" in r.stderr
    with Store.open(folder) as s:
        [rec] = [x for x in records.latest(s, 100) if x.action == "evidence export"]
        assert rec.username == "sup" and rec.client == "cli" and rec.result_ids == [read_id]


def test_the_holds_page_exports_a_verifying_archive(app, clock) -> None:  # noqa: F811
    read_id = store_of(app).latest_reads(1)[0].id
    holds.place(store_of(app), case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[read_id],
                actor=SUP)
    rec = app.test_client()
    sign_in(rec, clock, "rec")
    form = {"case": "24-001234", "category": "criminal investigation", "reason": "booked into evidence for trial"}
    r = rec.post("/holds/export", data=form)
    assert r.status_code == 200 and r.mimetype == "application/zip", r.data[:500]
    assert "evidence-24-001234.zip" in r.headers["Content-Disposition"]
    assert evidence.verify(r.data, signing.load_signer().public_pem).ok
    nope = rec.post("/holds/export", data={**form, "case": "24-000000"})
    assert nope.status_code == 200 and b"no legal hold names case 24-000000" in nope.data
    [x] = [x for x in records.latest(store_of(app), 100) if x.action == "evidence export"]
    assert x.username == "rec" and x.agency == "CA0010000"


def test_the_device_signs_with_the_key_beside_its_store_key(folder, clock, tmp_path: Path) -> None:  # noqa: F811
    """One place for the signing key: the folder of the key that opens the store (not a default folder)."""
    import shutil
    from appliance.store.keys import LocalKeyFile, default_key_path
    from webui import create_app
    from appliance import users
    own = tmp_path / "own-keys"
    own.mkdir()
    shutil.copy2(default_key_path(), own / "store.key")
    app = create_app(folder, {"TESTING": True, "SECRET_KEY": "k", "WTF_CSRF_ENABLED": False, "agency": "CA0010000",
                              "password_hasher": users.cheap_hasher(), "clock": clock,
                              "store_keys": LocalKeyFile(own / "store.key")})
    try:
        assert store_of(app).key_folder == own
        read_id = store_of(app).latest_reads(1)[0].id
        holds.place(store_of(app), case_number="24-001234", reason=WHY, requester="Det. Ruiz", read_ids=[read_id],
                    actor=SUP)
        rec = app.test_client()
        sign_in(rec, clock, "rec")
        r = rec.post("/holds/export", data={"case": "24-001234", "category": "criminal investigation",
                                            "reason": "booked into evidence for trial"})
        assert r.status_code == 200 and evidence.verify(r.data, signing.load_signer(own).public_pem).ok
        assert not (signing.key_folder() / signing.SIGNING_KEY).exists()  # nothing made in the default folder
    finally:
        store_of(app).close()
