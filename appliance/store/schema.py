"""Schema versions and the migrations between them, run when a store opens.

Each migration is frozen SQL: once released it never changes, a new one is appended.
Version 1 holds reads, users and the schema_version table itself. Version 2 (the
encrypted store) adds each image's wrapped key and a damaged mark per image; a v1 store's
images are encrypted by `upgrade.py` right after this migration has run on its copy.
Version 3 (retention) adds the hub's confirmation mark, the hit and hold flags, why an image
is gone, the indexes that search and purge use, and the purge records (retention.py).
Version 4 (access control, issue #8) adds to each account its second factor, lockout,
last activity and session epoch, and the tables of sign-in failures, training records
and account events (users.py, totp.py, training.py).
Version 5 (hub link, issue #6) adds the outbox (outbox.py): one row per record the hub has
not acknowledged, each with its UUID and a per-kind sequence number kept on the record itself
(reads.seq, purge_records.seq) so the pull API shows the same seq the push sent; the hub
client tokens (appliance/hub/tokens.py, stored as SHA-256 hashes) and a minimal record of
every pull (api_access; the access-records issue replaces it with the hash chain). Reads
and purge records the hub has not confirmed when a v4 store is migrated enter the outbox.
Version 6 (hotlists and alerts, issue #7) adds the hotlists and their entries
(appliance/hotlists/repository.py), the log of every list replacement (who, when, how many
added/removed/rejected), and the alerts: one per hit, holding a copy of the entry and list
as they were when it fired (a later import may change or remove them), and the
acknowledgement (outcome, user, time) that closes it (appliance/alerts/).
Version 7 (access records, issue #9) adds the hash-chained access records of POLICY LG-1..LG-4
(appliance/audit/records.py): n is the place in the chain, query and result_ids are JSON,
review is "required" for an exigent search; triggers refuse every UPDATE and DELETE (the
hash chain catches whoever drops them). The hub pull API writes here as well as api_access.
Version 8 (legal hold and purge anchors, issue #9) adds the legal holds of RT-3 (case, reason,
requester, who placed and released them, when) and the reads each one keeps (appliance/audit/
holds.py sets reads.hold while any active hold names a read), and the signed anchors that
old access records leave when they are purged (LG-5, appliance/audit/anchors.py): the last
purged record's place and hash, signed by the device key, so the chain verifies from there.
Version 9 (settings, issue #8) adds the policy settings an administrator changes in the UI
(appliance/settings.py): one row per changed key, its JSON value, who changed it and when;
each change is also an access record ("settings change", old and new value).
Version 10 (hotlists, issue #7) adds to each alert when its read saw the car (seen_at: a
retrospective alert, raised when a new or changed entry matches a recent read, comes days
later) and the repeat count of a suppressed hit (the same entry hit by the same plate
within the suppression window makes no second alert), with one alert_repeats row per such
read (appliance/alerts/records.py, retro.py).
Version 11 (hub link, issue #6) adds the hotlist sync state (appliance/hub/hotlist_sync.py):
per hub, the ETag of the lists last applied, when the hub last answered well (the lists'
age), the last error and the report of the entries it skipped; and, per synced list, the
fields the hub sent that this software does not know, kept as sent.
Version 12 (updates, issue #12) records in schema_version whether each later version breaks older
software, so a rolled-back release keeps using a store a newer one extended (docs/updates.md).
Version 13 (hub link, issue #6) adds the hub clients' registered client certificates
(appliance/hub/client_certs.py): the SHA-256 fingerprint each one is pinned by, the client
name it authenticates as on the pull API, and when it was registered and revoked (additive).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from peewee import Database

from appliance.errors import StoreError
from appliance.store.times import to_rfc3339

log = logging.getLogger(__name__)

_V1 = (
    """CREATE TABLE schema_version (
        version INTEGER NOT NULL PRIMARY KEY,
        applied_at TEXT NOT NULL)""",
    """CREATE TABLE reads (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        device_id TEXT NOT NULL,
        camera_id TEXT NOT NULL,
        text TEXT NOT NULL,
        confidence REAL NOT NULL,
        char_confidences TEXT NOT NULL,
        alternatives TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        clock_synced INTEGER NOT NULL,
        box_x INTEGER NOT NULL,
        box_y INTEGER NOT NULL,
        box_w INTEGER NOT NULL,
        box_h INTEGER NOT NULL,
        direction TEXT NOT NULL,
        frames_seen INTEGER NOT NULL,
        crop_file TEXT NOT NULL,
        frame_file TEXT NOT NULL,
        stored_at TEXT NOT NULL)""",
    "CREATE INDEX reads_last_seen ON reads (last_seen)",
    "CREATE INDEX reads_text ON reads (text)",
    """CREATE TABLE users (
        id INTEGER NOT NULL PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0)""",
)

_V2 = (
    "ALTER TABLE reads ADD COLUMN crop_key BLOB",  # AES-KW wrapped image key; NULL: no image (shredded)
    "ALTER TABLE reads ADD COLUMN frame_key BLOB",
    "ALTER TABLE reads ADD COLUMN crop_damaged INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE reads ADD COLUMN frame_damaged INTEGER NOT NULL DEFAULT 0",
)

_V3 = (
    "ALTER TABLE reads ADD COLUMN hit INTEGER NOT NULL DEFAULT 0",  # matched a hotlist: kept longer, keeps its frame
    "ALTER TABLE reads ADD COLUMN hold INTEGER NOT NULL DEFAULT 0",  # never purged while set (legal holds build on it)
    "ALTER TABLE reads ADD COLUMN confirmed_at TEXT",  # when the hub confirmed receipt; NULL: never purged
    "ALTER TABLE reads ADD COLUMN crop_gone TEXT",  # why the crop is not kept: disk full, capacity, retention
    "ALTER TABLE reads ADD COLUMN frame_gone TEXT",  # the same, or 'not kept' (store.keep_frame = false)
    "CREATE INDEX reads_camera_last_seen ON reads (camera_id, last_seen)",
    "CREATE INDEX reads_confirmed_at ON reads (confirmed_at)",
    """CREATE TABLE purge_records (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        reason TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        reads_deleted INTEGER NOT NULL DEFAULT 0,
        images_deleted INTEGER NOT NULL DEFAULT 0,
        oldest_read TEXT,
        newest_read TEXT,
        detail TEXT NOT NULL,
        confirmed_at TEXT)""",
    """CREATE TABLE purge_items (
        purge_id VARCHAR(36) NOT NULL REFERENCES purge_records (id),
        read_id VARCHAR(36) NOT NULL,
        images INTEGER NOT NULL,
        PRIMARY KEY (purge_id, read_id))""",
)

_V4 = (
    "ALTER TABLE users ADD COLUMN totp_secret TEXT",  # base32 TOTP key; NULL: not enrolled
    "ALTER TABLE users ADD COLUMN totp_pending TEXT",  # key shown on the enrolment page, not yet confirmed
    "ALTER TABLE users ADD COLUMN totp_last_step INTEGER",  # last accepted 30 s step: a replayed code is refused
    "ALTER TABLE users ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 1",  # POLICY AC-4: on unless relaxed
    "ALTER TABLE users ADD COLUMN locked_at TEXT",  # POLICY AC-6: set after 5 failures; an administrator clears it
    "ALTER TABLE users ADD COLUMN last_active TEXT",  # last full sign-in; 90 days without one disables (AC-3)
    "ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0",  # bumped to end live sessions
    """CREATE TABLE sign_in_failures (
        id INTEGER NOT NULL PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        at TEXT NOT NULL)""",
    "CREATE INDEX sign_in_failures_user_at ON sign_in_failures (user_id, at)",
    """CREATE TABLE training_records (
        id INTEGER NOT NULL PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users (id),
        course TEXT NOT NULL,
        version TEXT NOT NULL,
        completed TEXT NOT NULL,
        expires TEXT NOT NULL,
        entered_by TEXT NOT NULL,
        entered_at TEXT NOT NULL)""",
    "CREATE INDEX training_records_user ON training_records (user_id, expires)",
    """CREATE TABLE account_events (
        id INTEGER NOT NULL PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        username TEXT NOT NULL,
        event TEXT NOT NULL,
        detail TEXT NOT NULL)""",
)

_V5 = (
    """CREATE TABLE outbox (
        n INTEGER NOT NULL PRIMARY KEY,
        id VARCHAR(36) NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        body TEXT,
        UNIQUE (kind, seq))""",  # n: insertion order; body: the fields of kinds without a table of their own
    "CREATE INDEX outbox_order ON outbox (priority, n)",
    """CREATE TABLE outbox_seq (
        kind TEXT NOT NULL PRIMARY KEY,
        last INTEGER NOT NULL)""",  # the last seq given out per kind; never goes back
    "INSERT INTO outbox_seq (kind, last) VALUES ('read', 0), ('alert', 0), ('access', 0), ('purge', 0), "
    "('heartbeat', 0)",
    "ALTER TABLE reads ADD COLUMN seq INTEGER",
    "ALTER TABLE purge_records ADD COLUMN seq INTEGER",
    "UPDATE reads SET seq = x.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM reads) AS x "
    "WHERE x.id = reads.id",
    "UPDATE purge_records SET seq = x.n FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM purge_records) "
    "AS x WHERE x.id = purge_records.id",
    "CREATE UNIQUE INDEX reads_seq ON reads (seq)",
    "CREATE UNIQUE INDEX purge_records_seq ON purge_records (seq)",
    "UPDATE outbox_seq SET last = (SELECT COALESCE(MAX(seq), 0) FROM reads) WHERE kind = 'read'",
    "UPDATE outbox_seq SET last = (SELECT COALESCE(MAX(seq), 0) FROM purge_records) WHERE kind = 'purge'",
    "INSERT INTO outbox (id, kind, seq, priority, created_at) "
    "SELECT id, 'read', seq, 1, stored_at FROM reads WHERE confirmed_at IS NULL ORDER BY seq",
    "INSERT INTO outbox (id, kind, seq, priority, created_at) "
    "SELECT id, 'purge', seq, 1, started_at FROM purge_records WHERE confirmed_at IS NULL ORDER BY seq",
    """CREATE TABLE hub_tokens (
        id INTEGER NOT NULL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at TEXT)""",
    """CREATE TABLE api_access (
        id INTEGER NOT NULL PRIMARY KEY,
        at TEXT NOT NULL,
        client TEXT NOT NULL,
        path TEXT NOT NULL,
        query TEXT NOT NULL,
        count INTEGER NOT NULL)""",
)

_V6 = (
    """CREATE TABLE hotlists (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        priority INTEGER NOT NULL,
        source_system TEXT NOT NULL,
        refreshed_at TEXT,
        refresh_interval_s INTEGER NOT NULL,
        policy TEXT NOT NULL,
        lookalike_budget INTEGER NOT NULL)""",
    """CREATE TABLE hotlist_entries (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        list_id VARCHAR(36) NOT NULL REFERENCES hotlists (id),
        plate TEXT NOT NULL,
        state TEXT NOT NULL,
        description TEXT NOT NULL,
        reason TEXT NOT NULL,
        case_number TEXT NOT NULL,
        entered_by TEXT NOT NULL,
        entered_at TEXT NOT NULL,
        expires_at TEXT,
        manual INTEGER NOT NULL,
        renewals TEXT NOT NULL)""",  # renewals: JSON list of {at, by, reason, expires_at}
    "CREATE INDEX hotlist_entries_list ON hotlist_entries (list_id)",
    "CREATE INDEX hotlist_entries_plate ON hotlist_entries (plate)",
    """CREATE TABLE hotlist_imports (
        n INTEGER NOT NULL PRIMARY KEY,
        list_id VARCHAR(36) NOT NULL,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        entries INTEGER NOT NULL,
        added INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        changed INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        detail TEXT NOT NULL)""",  # n also versions the lists: a matcher is rebuilt when MAX(n) moves
    """CREATE TABLE alerts (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        seq INTEGER NOT NULL UNIQUE,
        read_id VARCHAR(36) NOT NULL,
        entry_id VARCHAR(36) NOT NULL,
        list_id VARCHAR(36) NOT NULL,
        kind TEXT NOT NULL,
        read_text TEXT NOT NULL,
        matched_text TEXT NOT NULL,
        substituted TEXT NOT NULL,
        uncertain TEXT NOT NULL,
        score REAL NOT NULL,
        entry TEXT NOT NULL,
        hotlist TEXT NOT NULL,
        retrospective INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        outcome TEXT,
        note TEXT NOT NULL DEFAULT '')""",  # entry, hotlist: JSON copies as they were when the alert fired
    "CREATE INDEX alerts_open ON alerts (acknowledged_at, created_at)",
    "CREATE INDEX alerts_read ON alerts (read_id)",
)

_V7 = (
    """CREATE TABLE access_records (
        n INTEGER NOT NULL PRIMARY KEY,
        id VARCHAR(36) NOT NULL UNIQUE,
        at TEXT NOT NULL,
        username TEXT NOT NULL,
        agency TEXT NOT NULL,
        action TEXT NOT NULL,
        query TEXT NOT NULL,
        purpose_category TEXT NOT NULL,
        purpose_text TEXT NOT NULL,
        case_number TEXT NOT NULL,
        client TEXT NOT NULL,
        outcome TEXT NOT NULL,
        result_count INTEGER NOT NULL,
        result_ids TEXT NOT NULL,
        review TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL)""",
    "CREATE INDEX access_records_user ON access_records (username, n)",
    """CREATE TRIGGER access_records_no_update BEFORE UPDATE ON access_records
        BEGIN SELECT RAISE(ABORT, 'access records are append-only'); END""",
    """CREATE TRIGGER access_records_no_delete BEFORE DELETE ON access_records
        BEGIN SELECT RAISE(ABORT, 'access records are append-only'); END""",
)

_V8: tuple[str, ...] = (  # legal holds and signed purge anchors (issue #9)
    """CREATE TABLE legal_holds (
        id VARCHAR(36) NOT NULL PRIMARY KEY,
        case_number TEXT NOT NULL,
        purpose_category TEXT NOT NULL,
        reason TEXT NOT NULL,
        requester TEXT NOT NULL,
        placed_by TEXT NOT NULL,
        placed_at TEXT NOT NULL,
        released_by TEXT,
        released_at TEXT,
        release_reason TEXT)""",  # released_at NULL: the hold is active
    "CREATE INDEX legal_holds_case ON legal_holds (case_number, placed_at)",
    """CREATE TABLE legal_hold_reads (
        hold_id VARCHAR(36) NOT NULL REFERENCES legal_holds (id),
        read_id VARCHAR(36) NOT NULL,
        PRIMARY KEY (hold_id, read_id))""",  # no foreign key to reads: the list outlives a purged read
    "CREATE INDEX legal_hold_reads_read ON legal_hold_reads (read_id)",
    """CREATE TABLE access_anchors (
        n INTEGER NOT NULL PRIMARY KEY,
        hash TEXT NOT NULL,
        purged INTEGER NOT NULL,
        oldest_at TEXT NOT NULL,
        newest_at TEXT NOT NULL,
        purged_at TEXT NOT NULL,
        public_key TEXT NOT NULL,
        signature TEXT NOT NULL)""",
    """CREATE TRIGGER access_anchors_no_update BEFORE UPDATE ON access_anchors
        BEGIN SELECT RAISE(ABORT, 'access-record anchors are append-only'); END""",
    """CREATE TRIGGER access_anchors_no_delete BEFORE DELETE ON access_anchors
        BEGIN SELECT RAISE(ABORT, 'access-record anchors are append-only'); END""",
)
_V9: tuple[str, ...] = (  # policy settings changed in the UI (issue #8)
    """CREATE TABLE settings (
        key TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by TEXT NOT NULL)""",  # value: JSON; overlays the config file (appliance/settings.py)
)
_V10: tuple[str, ...] = (  # hotlists: retrospective matches, repeat suppression (issue #7)
    "ALTER TABLE alerts ADD COLUMN seen_at TEXT",  # when the read saw the car (a retrospective alert is later)
    "ALTER TABLE alerts ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE alerts ADD COLUMN last_repeat_at TEXT",
    "CREATE INDEX alerts_entry ON alerts (entry_id, read_text, created_at)",
    """CREATE TABLE alert_repeats (
        read_id VARCHAR(36) NOT NULL,
        alert_id VARCHAR(36) NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (read_id, alert_id))""",  # a suppressed hit: the read is stored, the alert notes it
)
_V11: tuple[str, ...] = (  # hub link: hotlist sync state (issue #6)
    """CREATE TABLE hotlist_sync (
        hub TEXT NOT NULL PRIMARY KEY,
        etag TEXT,
        checked_at TEXT,
        applied_at TEXT,
        lists INTEGER NOT NULL DEFAULT 0,
        entries INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0,
        report TEXT NOT NULL DEFAULT '[]',
        body_sha256 TEXT,
        last_error TEXT,
        last_error_at TEXT)""",  # checked_at: last good answer (200 or 304); report: JSON [{list, index, reason}];
    # body_sha256: of the body last applied, so a hub that sends no ETag does not re-import unchanged lists
    """CREATE TABLE hotlist_extras (
        list_id VARCHAR(36) NOT NULL PRIMARY KEY,
        fields TEXT NOT NULL)""",  # JSON {"list": {...}, "entries": {"PLATE|ST|CASE": {...}}}: unknown fields, as sent
)

# Version 12 (updates, issue #12) lets a rolled-back release keep using a store that a newer
# release has migrated: each applied version records whether it breaks older software. From
# here on migrations are additive (new tables, columns that are nullable or have a default)
# unless listed in BREAKING, and older software (12 or later) opens a newer store when no
# newer version breaks it.
_V12 = ("ALTER TABLE schema_version ADD COLUMN breaks_older INTEGER NOT NULL DEFAULT 0",)
_COMPAT_FROM = 12  # the first version whose software reads breaks_older
BREAKING: frozenset[int] = frozenset()  # versions older software must not open
_V13 = (  # hub link: client certificates of the pull API (issue #6)
    """CREATE TABLE hub_client_certs (
        id INTEGER NOT NULL PRIMARY KEY,
        name TEXT NOT NULL,
        fingerprint TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        not_after TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        revoked_at TEXT)""",  # fingerprint: SHA-256 of the DER, lowercase hex; a client may have several
)

_V14 = (  # access records by action and time: the audit report's period and the exigent-review queue
    # read only their rows, not the whole chain (audit/records.searches_between, audit/review.py)
    "CREATE INDEX access_records_action_at ON access_records (action, at)",
)

MIGRATIONS: dict[int, tuple[str, ...]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7,
                                          8: _V8, 9: _V9, 10: _V10, 11: _V11, 12: _V12, 13: _V13, 14: _V14}
LATEST = max(MIGRATIONS)


def current_version(db: Database) -> int:
    """The highest applied migration, 0 for an empty database."""
    if not db.table_exists("schema_version"):
        return 0
    (v,) = db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
    return int(v)


def migrate(db: Database, where: str) -> int:
    """Bring the database up to `LATEST`, one transaction per migration; return the version."""
    version = current_version(db)
    if version > LATEST:
        _check_newer_store_is_readable(db, version, where)
        return version
    for v in range(version + 1, LATEST + 1):
        # the write lock first, then look again: `alpr run` and `alpr serve` may open a new
        # store at the same moment, and only one of them may apply each migration
        with db.atomic(lock_type="IMMEDIATE"):
            if current_version(db) >= v:
                continue
            for sql in MIGRATIONS[v]:
                db.execute_sql(sql)
            now = to_rfc3339(datetime.now(timezone.utc))
            if v >= _COMPAT_FROM:
                db.execute_sql("INSERT INTO schema_version (version, applied_at, breaks_older) VALUES (?, ?, ?)",
                               (v, now, int(v in BREAKING)))
            else:
                db.execute_sql("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (v, now))
        log.info("store %s migrated to schema version %d", where, v)
    return LATEST


def _check_newer_store_is_readable(db: Database, version: int, where: str) -> None:
    """A store a newer release migrated stays usable after a rollback unless a newer version
    is marked as breaking older software (or predates the mark, which only 12+ writes)."""
    newer_than_us = ("the store at {where} has schema version {version}, newer than this software knows "
                     "({LATEST}){why}: install the newer alpr-appliance that wrote it")
    if version >= _COMPAT_FROM and LATEST >= _COMPAT_FROM:
        breaking = [v for (v,) in db.execute_sql(
            "SELECT version FROM schema_version WHERE version > ? AND breaks_older != 0", (LATEST,))]
        if not breaking:
            log.warning("store %s has schema version %d, newer than this software's %d; its additions are "
                        "additive, so it is used as it is (a rolled-back update)", where, version, LATEST)
            return
        why = f", and version {breaking[0]} changed it in a way older software cannot use"
    else:
        why = ""
    raise StoreError(newer_than_us.format(where=where, version=version, LATEST=LATEST, why=why))
