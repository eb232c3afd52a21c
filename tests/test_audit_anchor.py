"""Purging old access records leaves a signed anchor (POLICY LG-5, LG-3): the chain still verifies from it,
a forged or edited anchor fails, tampering after the anchor is still caught, records the hub lacks stay.

Real encrypted stores, real EC keys, the real `alpr audit verify` in a subprocess; tampering is done in
the database itself, dropping the triggers first, as someone holding the key would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from appliance.audit import anchors, records, signing
from appliance.audit.records import AccessRecord
from test_access_control import clock, folder, sign_in, store_of  # noqa: F401 - fixtures
from test_holds import app  # noqa: F401
from test_store import T0, keys_for, open_store

REPO = Path(__file__).resolve().parents[1]
NOW = T0 + timedelta(days=1000)


def fill(store, n: int, start=T0) -> list[records.StoredRecord]:
    return [records.append(store, AccessRecord(username=f"user{i}", action="search", client="10.0.0.9",
                                               purpose_category="criminal investigation", purpose_text=f"case {i}",
                                               case_number=f"C-{i:03d}", result_ids=[f"id-{i}"],
                                               at=start + timedelta(hours=i)))
            for i in range(n)]


def at_hub(store) -> None:
    """The hub acknowledged every access record sent so far."""
    store.outbox_acknowledge([e for e in store.outbox_pending(10000) if e.kind == "access"])


def keyed(folder: Path) -> signing.Signer:
    """The device key beside the store's master key, where `alpr audit verify` looks for it."""
    return signing.load_signer(keys_for(folder).path.parent)


def unlock(store, table: str = "access_records") -> None:
    for t in ("no_update", "no_delete"):
        store.database.execute_sql(f"DROP TRIGGER {table}_{t}")


@pytest.fixture
def purged(tmp_path: Path):
    """Eight records, the first six old and at the hub, purged: records 1-6 go, an anchor at 6 stays."""
    folder = tmp_path / "store"
    s = open_store(folder)
    recs = fill(s, 8)
    at_hub(s)
    # 730 days after record 7 (hour 6) was written: records 7 and 8 are not yet past the period
    anchor = anchors.purge(s, T0 + timedelta(days=730, hours=6), 730, keyed(folder))
    yield s, recs, anchor
    s.close()


def test_a_purge_leaves_a_signed_anchor_and_the_chain_verifies_from_it(purged) -> None:
    """LG-5: records older than the period go; the anchor names the last one's place and hash; verify passes."""
    s, recs, anchor = purged
    assert (anchor.n, anchor.hash, anchor.purged) == (6, recs[5].hash, 6)
    assert (anchor.oldest_at, anchor.newest_at) == (recs[0].at, recs[5].at)
    left = list(records.all_records(s))
    assert [r.n for r in left] == [7, 8, 9]  # 9: the purge itself, recorded in the chain
    assert left[-1].action == "access records purged" and left[-1].result_count == 6
    key = signing.device_public_key(keys_for(s.folder).path.parent)
    assert records.verify(s, key) == (True, None, "3 access records from the signed purge anchor at record 6, "
                                                  "chain intact")
    for sql in ("DELETE FROM access_records WHERE n = 7", "DELETE FROM access_anchors",
                "UPDATE access_anchors SET purged = 1"):
        with pytest.raises(Exception, match="append-only"):  # the triggers are back, anchors are append-only
            s.database.execute_sql(sql)
    fill(s, 2, start=NOW)
    assert records.verify(s, key)[0]  # appending continues from the chain's head


def test_a_second_purge_anchors_further_on(purged) -> None:
    s, recs, _ = purged
    at_hub(s)
    key_folder = keys_for(s.folder).path.parent
    from appliance.audit.chain_check import ChainCheck
    check = ChainCheck()
    key = signing.device_public_key(key_folder)
    assert check.run(s, key)[0]  # walked from the first anchor
    second = anchors.purge(s, NOW, 730, signing.load_signer(key_folder))
    assert second.n == 8 and [a.n for a in anchors.anchors(s)] == [6, 8]  # the head (9) stays
    assert records.verify(s, key)[0]
    # the audit page's check notices the anchor moved and walks from the new one, not from where it stopped
    assert check.run(s, key) == (True, None, "2 access records from the signed purge anchor at record 8, chain intact")


def test_records_the_hub_lacks_and_the_newest_record_stay(tmp_path: Path) -> None:
    """LG-5: on the device until the hub has them; the chain's head is never purged."""
    folder = tmp_path / "store"
    with open_store(folder) as s:
        fill(s, 3)
        assert anchors.purge(s, NOW, 730, keyed(folder)) is None  # none at the hub yet
        at_hub(s)
        fill(s, 2, start=T0 + timedelta(hours=3))  # old, but not at the hub
        anchor = anchors.purge(s, NOW, 730, keyed(folder))
        assert anchor.n == 3 and [r.n for r in records.all_records(s)][:2] == [4, 5]
        at_hub(s)
        assert anchors.purge(s, NOW, 730, keyed(folder)).n == 5  # 6, the first purge's own record, is young


@pytest.mark.parametrize("forgery, words", [
    ("UPDATE access_anchors SET hash = '{h}'", "its signature does not match its contents"),
    ("UPDATE access_anchors SET n = 5", "its signature does not match its contents"),
    ("resign", "signed by another key"),
])
def test_a_forged_or_edited_anchor_fails(purged, forgery, words) -> None:
    """An anchor changed to hide a deletion, or re-signed with the forger's own key, does not verify."""
    s, recs, anchor = purged
    unlock(s, "access_anchors")
    if forgery == "resign":
        other = signing.Signer(ec.generate_private_key(ec.SECP256R1()), Path("forger"))
        fake = anchors.Anchor(**{**anchor.__dict__, "public_key": other.public_pem, "signature": ""})
        s.database.execute_sql("UPDATE access_anchors SET public_key = ?, signature = ?",
                               (other.public_pem, other.sign(fake.signed_bytes())))
    else:
        s.database.execute_sql(forgery.format(h=recs[4].hash))
    ok, bad, why = records.verify(s, signing.device_public_key(keys_for(s.folder).path.parent))
    assert not ok and bad.startswith("anchor ") and words in why, why


@pytest.mark.parametrize("tamper, words", [
    ("UPDATE access_records SET purpose_text = 'nothing' WHERE n = 8", "do not match its hash"),
    ("DELETE FROM access_records WHERE n = 7", "record 7 is missing"),
    ("UPDATE access_records SET prev_hash = '{z}' WHERE n = 7", "previous-record hash"),
])
def test_tampering_after_the_anchor_is_still_caught(purged, tamper, words) -> None:
    s, recs, _ = purged
    unlock(s)
    s.database.execute_sql(tamper.format(z="0" * 64))
    ok, bad, why = records.verify(s, signing.device_public_key(keys_for(s.folder).path.parent))
    assert not ok and words in why, why


def test_without_the_device_key_an_anchor_cannot_be_trusted(purged, tmp_path: Path) -> None:
    s, _, _ = purged
    ok, _, why = records.verify(s)  # the default key folder ($CREDENTIALS_DIRECTORY) has no device key
    assert not ok and "cannot be checked: there is no device key" in why


def test_the_verify_command_after_a_purge(purged) -> None:
    """`alpr audit verify` finds the device key beside --key-file: exit 0 intact, 1 after tampering."""
    s, recs, _ = purged
    folder = s.folder
    s.close()
    cmd = [sys.executable, "-m", "appliance.audit.command", "verify", "--store", str(folder),
           "--key-file", str(keys_for(folder).path)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 0 and "from the signed purge anchor at record 6" in r.stdout, r.stderr
    with open_store(folder) as t:
        unlock(t, "access_anchors")
        t.database.execute_sql("UPDATE access_anchors SET purged = 2")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert r.returncode == 1 and "BROKEN" in r.stderr and "anchor 6" in r.stderr, (r.stdout, r.stderr)


def test_the_auditor_page_verifies_from_the_anchor(app, clock) -> None:  # noqa: F811
    """LG-3: the auditor page checks the anchor against the device key too."""
    store = store_of(app)
    fill(store, 3)
    at_hub(store)
    anchor = anchors.purge(store, NOW, 730, signing.load_signer())
    assert anchor.purged == anchor.n >= 2  # everything but the head (sign-up events of the fixture included)
    aud = app.test_client()
    sign_in(aud, clock, "aud")
    page = aud.get("/audit")
    assert page.status_code == 200 and b"Chain intact" in page.data
    assert f"purge anchor at record {anchor.n}".encode() in page.data
    unlock(store, "access_anchors")
    store.database.execute_sql("UPDATE access_anchors SET newest_at = '2020-01-01T00:00:00.000000Z'")
    assert b"Chain BROKEN" in aud.get("/audit").data


def test_a_bad_period_is_refused(tmp_path: Path) -> None:
    with open_store(tmp_path / "store") as s, pytest.raises(ValueError, match="number of days from 0 to 36500"):
        anchors.purge(s, NOW, -1, keyed(tmp_path / "store"))


def test_a_purge_with_nothing_to_purge_never_loads_the_signing_key(tmp_path) -> None:
    """The daily purge passes a function: no key is read or made when no record is due (the
    demo and a new device must not write into a key folder)."""
    from datetime import datetime, timezone

    from appliance.audit import anchors
    from appliance.store import Store

    def no_key():
        raise AssertionError("the signing key was loaded with nothing to purge")

    with Store.open(tmp_path / "store") as s:
        assert anchors.purge(s, datetime.now(timezone.utc), 730, no_key) is None
