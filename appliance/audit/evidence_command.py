"""`alpr evidence export|verify`: a case's held reads as a signed archive, and its check (POLICY RT-4, AC-10).

`export` needs a signed-in supervisor or records manager (cli_auth.py) and writes an access
record; the archive file is written before that record commits, and is removed if the
commit fails. `verify` needs no store and no sign-in: exit 0 intact, 1 not (the first
problem named), 2 when it cannot run (no such file, a bad --key file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from appliance.audit import evidence, holds, signing
from appliance.roles import HOLDERS
from appliance.standalone import run_standalone

VERIFY_HELP = ("check an evidence archive: every file's SHA-256 against the manifest, nothing missing or added, "
               "the manifest's signature; exit 0 intact, 1 not. The archive carries its own public key, which "
               "proves only that nothing changed since signing (integrity), not which device signed it (origin): "
               "give the device's public key with --key to check origin too")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `evidence export|verify` to the `alpr` command group."""
    e = sub.add_parser("evidence", help="evidence export of held reads and its verification (RT-4)")
    esub = e.add_subparsers(dest="action", required=True, metavar="ACTION")
    x = esub.add_parser("export", help="write a case's held reads as a signed zip (an access record)")
    x.add_argument("--case", required=True, help="the case number the reads are held for")
    x.add_argument("--out", required=True, help="the archive to write (.zip); an existing file is not overwritten")
    x.add_argument("--reason", required=True, help="why it is exported, e.g. 'booked into evidence for trial'")
    x.add_argument("--category", default="criminal investigation", choices=holds.HOLD_PURPOSES,
                   help="purpose category (default: criminal investigation)")
    x.add_argument("--signing-key-folder", help="folder of the device key (default: the folder of the store's key)")
    from appliance.cli_auth import add_auth_arguments
    from appliance.store.target import add_store_arguments
    add_store_arguments(x)
    add_auth_arguments(x)
    x.set_defaults(func=export)
    v = esub.add_parser("verify", help="check an archive: exit 0 intact, 1 not", description=VERIFY_HELP)
    v.add_argument("file", metavar="FILE", help="the evidence archive (.zip)")
    v.add_argument("--key", help="the device's public key (PEM, or its certificate): also check who signed")
    v.set_defaults(func=verify)


def export(a: argparse.Namespace) -> int:
    from appliance.cli_auth import authenticate_args
    from appliance.store.target import open_target
    out = Path(a.out)
    if out.exists():
        print(f"alpr evidence: {out} exists; give a new file name (an archive is never overwritten)", file=sys.stderr)
        return 2
    with open_target(a) as store:
        user = authenticate_args(store, a, roles=HOLDERS)
        signer = signing.load_signer(Path(a.signing_key_folder) if a.signing_key_folder else store.key_folder)
        try:
            report = evidence.export(store, a.case, reason=a.reason, actor=holds.Actor(user.username, user.client),
                                     write=lambda data: _write_new(out, data), signer=signer,
                                     purpose_category=a.category)
        except BaseException:
            out.unlink(missing_ok=True)  # written, but its access record did not commit: no record, no archive
            raise
    print(f"{out}: {len(report.read_ids)} read(s) of case {report.case_number}, {report.files} files, "
          f"signed by {report.fingerprint}; access record {report.access_record}")
    return 0


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def verify(a: argparse.Namespace) -> int:
    if not Path(a.file).is_file():
        print(f"alpr evidence verify: no such file {a.file}", file=sys.stderr)
        return 2
    key = None
    if a.key:
        try:
            key = Path(a.key).read_bytes()
            signing.load_public_pem(key)
        except (OSError, ValueError) as e:
            print(f"alpr evidence verify: --key {a.key} is not a readable EC public key or certificate (PEM): {e}",
                  file=sys.stderr)
            return 2
    verdict = evidence.verify(Path(a.file), key)
    if verdict.ok:
        origin = "signed by the given device key" if key else "origin not checked: give --key DEVICE-KEY.pem"
        print(f"{a.file}: intact, {verdict.files} files, signature good (key {verdict.fingerprint}); {origin}")
        return 0
    print(f"{a.file}: NOT intact: {verdict.problem}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """`python -m appliance.audit.evidence_command verify FILE`, the same as `alpr evidence verify FILE`."""
    return run_standalone(add_parser, "evidence", argv)  # any error (a refused sign-in, a bad request) is exit 2


if __name__ == "__main__":
    sys.exit(main())
