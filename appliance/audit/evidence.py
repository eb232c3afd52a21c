"""Evidence export (POLICY RT-4): a case's held reads as a signed archive, and its verification.

The archive (zip) holds, for each read a legal hold of the case names and the store still has,
its original images (the JPEG crop and frame, decrypted in memory) and its metadata as
JSON; the case and its holds; a chain-of-custody entry (who exported, when, why, from which
device, under which access record); the device's public key; a SHA-256 manifest of every
one of those files (`manifest.sha256`, sha256sum's format) and the manifest's signature by
the device key (`manifest.sig`, signing.py). The export writes its access record in the same
transaction, and that transaction commits only after the archive was written (LG-4): no
archive without a record, and a failed write leaves no record of an export that did not happen.

`verify` checks every listed file's hash, that nothing is missing or added, and the
signature. The key inside the archive proves only that nothing changed since signing; that
this device signed it needs the device's public key from elsewhere (`trusted_key`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from appliance.audit import holds, records, signing
from appliance.audit.holds import Actor
from appliance.audit.records import AccessRecord, at_text
from appliance.errors import EvidenceError
from appliance.store.crypto import ImageDamagedError

log = logging.getLogger(__name__)

MANIFEST, SIGNATURE, PUBLIC_KEY = "manifest.sha256", "manifest.sig", "device-key.pem"
_LINE = re.compile(r"([0-9a-f]{64})  (\S[^\n]*)")
FORMAT = "alpr-evidence/1"


@dataclass(frozen=True)
class ExportReport:
    """What an export put in its archive."""

    case_number: str
    read_ids: tuple[str, ...]
    files: int
    access_record: str
    fingerprint: str
    size: int


@dataclass(frozen=True)
class Verdict:
    """An archive's check: intact or not, the first problem, and what was checked."""

    ok: bool
    problem: str | None
    files: int
    fingerprint: str | None


def _json(value) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _read_files(store, read, held_by: list[str]) -> dict[str, bytes]:
    """One read's files: metadata.json and whichever original images the store still has."""
    read_id = read.id
    files, missing = {}, {}
    for kind in ("crop", "frame"):
        try:
            data = store.image_bytes(read_id, kind)
        except ImageDamagedError:
            data, missing[kind] = None, "damaged (failed authentication in the store)"
        if data is not None:
            files[f"reads/{read_id}/{kind}.jpg"] = data
        else:
            missing.setdefault(kind, dict(read.gone).get(kind, "not kept"))
    meta = {**read.as_json(), "stored_at": at_text(read.stored_at), "hold": read.hold, "held_by": held_by,
            "confirmed_at": None if read.confirmed_at is None else at_text(read.confirmed_at),
            "images_missing": missing}
    files[f"reads/{read_id}/metadata.json"] = _json(meta)
    return files


def export(store, case_number: str, *, reason: str, actor: Actor, write: Callable[[bytes], None],
           signer: signing.Signer, purpose_category: str = "criminal investigation",
           now: datetime | None = None) -> ExportReport:
    """Build the case's archive, hand it to `write`, and record the export; all or nothing."""
    case = holds.check_case(case_number)
    reason = holds.check_text("reason for the export", reason, holds.MIN_REASON)
    if purpose_category not in holds.HOLD_PURPOSES:
        raise EvidenceError(f"purpose category must be one of {', '.join(holds.HOLD_PURPOSES)}; "
                            f"got {purpose_category!r}")
    now = now or datetime.now(timezone.utc)
    db = store.database
    with db.atomic("IMMEDIATE"):
        case_holds = holds.list_holds(db, case_number=case)
        if not case_holds:
            raise EvidenceError(f"no legal hold names case {case}: place a hold on its reads first "
                                "(alpr hold place, or the hold form on a search result)")
        by_read: dict[str, list[str]] = {}
        for h in case_holds:
            for i in h.read_ids:
                by_read.setdefault(i, []).append(h.id)
        held = {r.id: r for i in by_read if (r := store.get_read(i)) is not None}
        ids = sorted(held)
        if not ids:
            raise EvidenceError(f"the reads held for case {case} are no longer in the store (purged after release)")
        rec = records.append(db, AccessRecord(
            username=actor.username, agency=actor.agency, client=actor.client, action="evidence export",
            purpose_category=purpose_category, purpose_text=reason, case_number=case, at=now, result_ids=ids,
            query={"case": case, "holds": [h.id for h in case_holds], "format": FORMAT}))
        files: dict[str, bytes] = {}
        for i in ids:
            files.update(_read_files(store, held[i], by_read[i]))
        files["case.json"] = _json({"format": FORMAT, "case_number": case, "device_key_fingerprint": signer.fingerprint,
                                    "holds": [_hold_json(h) for h in case_holds], "reads": ids})
        files["custody.json"] = _json([{"event": "exported from the device", "by": actor.username,
                                        "agency": actor.agency, "client": actor.client, "at": at_text(now),
                                        "purpose_category": purpose_category, "reason": reason, "case_number": case,
                                        "access_record": rec.id, "device_key_fingerprint": signer.fingerprint}])
        files[PUBLIC_KEY] = signer.public_pem.encode("ascii")
        data = _archive(files, signer, now)
        write(data)
    log.info("evidence export of %d reads (record %s) by %s", len(ids), rec.id, actor.username)
    return ExportReport(case, tuple(ids), len(files) + 2, rec.id, signer.fingerprint, len(data))


def _hold_json(h: holds.Hold) -> dict:
    return {"id": h.id, "purpose_category": h.purpose_category, "reason": h.reason, "requester": h.requester,
            "placed_by": h.placed_by, "placed_at": h.placed_at, "released_by": h.released_by,
            "released_at": h.released_at, "release_reason": h.release_reason, "read_ids": list(h.read_ids)}


def manifest_of(files: dict[str, bytes]) -> bytes:
    """sha256sum's format, sorted by path: what the signature covers."""
    return "".join(f"{hashlib.sha256(files[p]).hexdigest()}  {p}\n" for p in sorted(files)).encode("utf-8")


def _archive(files: dict[str, bytes], signer: signing.Signer, now: datetime) -> bytes:
    manifest = manifest_of(files)
    out = io.BytesIO()
    stamp = now.astimezone(timezone.utc).timetuple()[:6]
    files = {**files, MANIFEST: manifest, SIGNATURE: (signer.sign(manifest) + "\n").encode("ascii")}
    with zipfile.ZipFile(out, "w") as z:
        for path, data in files.items():
            kind = zipfile.ZIP_STORED if path.endswith(".jpg") else zipfile.ZIP_DEFLATED  # JPEG does not shrink
            z.writestr(zipfile.ZipInfo(path, stamp), data, compress_type=kind)
    return out.getvalue()


def verify(archive: Path | bytes, trusted_key: str | bytes | None = None) -> Verdict:
    """Check an archive: manifest hashes, nothing missing or added, signature (and signer, given a trusted key)."""
    try:
        z = zipfile.ZipFile(io.BytesIO(archive) if isinstance(archive, bytes) else Path(archive))
    except (zipfile.BadZipFile, OSError) as e:
        return Verdict(False, f"not a readable evidence archive (zip): {e}", 0, None)
    with z:
        return _verify(z, trusted_key)


def _verify(z: zipfile.ZipFile, trusted_key: str | bytes | None) -> Verdict:
    names = z.namelist()
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return Verdict(False, f"{dupes[0]} appears more than once in the archive (added)", 0, None)
    for needed in (MANIFEST, SIGNATURE, PUBLIC_KEY):
        if needed not in names:
            return Verdict(False, f"{needed} is missing from the archive (removed)", 0, None)
    manifest = z.read(MANIFEST)
    try:
        key = signing.load_public_pem(z.read(PUBLIC_KEY))
    except ValueError as e:
        return Verdict(False, f"{PUBLIC_KEY} is not a usable public key: {e}", 0, None)
    fingerprint = signing.public_key_fingerprint(key)
    listed: dict[str, str] = {}
    for number, line in enumerate(manifest.decode("utf-8", "replace").splitlines(), 1):
        m = _LINE.fullmatch(line)
        if m is None:
            return Verdict(False, f"{MANIFEST} line {number} is not '<sha256>  <path>' (edited)", 0, fingerprint)
        listed[m.group(2)] = m.group(1)
    for path, want in listed.items():
        if path not in names:
            return Verdict(False, f"{path} is listed in the manifest but missing from the archive (removed)",
                           len(listed), fingerprint)
        if hashlib.sha256(z.read(path)).hexdigest() != want:
            return Verdict(False, f"{path}: its SHA-256 does not match the manifest (changed)", len(listed),
                           fingerprint)
    extra = sorted(set(names) - set(listed) - {MANIFEST, SIGNATURE})
    if extra:
        return Verdict(False, f"{extra[0]} is in the archive but not in the manifest (added)", len(listed), fingerprint)
    if PUBLIC_KEY not in listed:
        return Verdict(False, f"{PUBLIC_KEY} is not in the manifest (the key was swapped)", len(listed), fingerprint)
    if not signing.check(key, z.read(SIGNATURE).decode("ascii", "replace").strip(), manifest):
        return Verdict(False, "the manifest's signature does not verify with the archive's device key "
                              "(forged, or the manifest was changed)", len(listed), fingerprint)
    if trusted_key is not None:
        trusted = signing.load_public_pem(trusted_key)
        if signing.public_pem(trusted).strip() != signing.public_pem(key).strip():
            return Verdict(False, f"the archive is signed by key {fingerprint}, not by the given device key "
                                  f"{signing.public_key_fingerprint(trusted)} (not from that device)",
                           len(listed), fingerprint)
    return Verdict(True, None, len(listed), fingerprint)
