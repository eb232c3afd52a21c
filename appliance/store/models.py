"""The store's tables as peewee models, declared without a database.

`UNBOUND` is a `SqliteDatabase(None)` that is never initialised: a query that forgets to
name the store's database fails loudly ("database must be initialized") instead of
writing somewhere unexpected. Each `Store` makes its own database object at start and
runs every query against it (`query.bind(db)`, `query.execute(db)`), so two stores can be
open in one process (the demo runs the pipeline and the web UI on one folder) and the
encrypted store can swap in an `SqlCipherDatabase` without touching these classes.

The tables themselves are created by the frozen SQL in `schema.py`, not from these classes,
so that a later change here comes with a migration instead of silently changing version 1.
"""

from __future__ import annotations

from peewee import (BlobField, BooleanField, CharField, CompositeKey, FloatField, IntegerField, Model, SqliteDatabase,
                    TextField)

UNBOUND = SqliteDatabase(None)


class _Base(Model):
    class Meta:
        database = UNBOUND


class ReadRow(_Base):
    """One vehicle pass (appliance.types.Read) without its pixels; those are encrypted files."""

    id = CharField(primary_key=True, max_length=36)  # uuid7, so it sorts by creation time
    device_id = TextField()
    camera_id = TextField()
    text = TextField()
    confidence = FloatField()
    char_confidences = TextField()  # JSON list of floats
    alternatives = TextField()  # JSON list of {"text", "score"}
    first_seen = TextField()  # RFC 3339 UTC, milliseconds
    last_seen = TextField()
    clock_synced = BooleanField()
    box_x = IntegerField()
    box_y = IntegerField()
    box_w = IntegerField()
    box_h = IntegerField()
    direction = TextField()
    frames_seen = IntegerField()
    crop_file = TextField()  # relative to the store folder
    frame_file = TextField()
    stored_at = TextField()
    crop_key = BlobField(null=True)  # the crop's AES-GCM key wrapped by the master key; NULL: destroyed
    frame_key = BlobField(null=True)
    crop_damaged = BooleanField(default=False)  # its file failed authentication on a read
    frame_damaged = BooleanField(default=False)
    hit = BooleanField(default=False)  # matched a hotlist (schema v3)
    hold = BooleanField(default=False)  # purge leaves it alone while set
    confirmed_at = TextField(null=True)  # when the hub confirmed receipt; NULL: not yet, never purged
    crop_gone = TextField(null=True)  # why the crop is not kept (store.GONE_REASONS); NULL while it is
    frame_gone = TextField(null=True)
    seq = IntegerField(null=True)  # per-device sequence of reads (outbox.py); the pull API's cursor

    class Meta:
        table_name = "reads"


class PurgeRecordRow(_Base):
    """One purge run (RT-2): what it deleted and why; forwarded to the hub like reads."""

    id = CharField(primary_key=True, max_length=36)  # uuid7
    reason = TextField()  # "retention" or "capacity"
    started_at = TextField()
    finished_at = TextField(null=True)  # NULL: cut short (its counts still match what was deleted)
    reads_deleted = IntegerField(default=0)
    images_deleted = IntegerField(default=0)
    oldest_read = TextField(null=True)  # last_seen of the oldest read touched; NULL when none
    newest_read = TextField(null=True)
    detail = TextField()  # JSON: the periods or watermarks applied, disk use
    confirmed_at = TextField(null=True)  # when the hub confirmed receipt of this record
    seq = IntegerField(null=True)  # per-device sequence of purge records (outbox.py); set when the run ends

    class Meta:
        table_name = "purge_records"


class PurgeItemRow(_Base):
    """One read whose images a capacity purge destroyed (the hub may not have them: each is listed)."""

    purge_id = CharField(max_length=36)
    read_id = CharField(max_length=36)
    images = IntegerField()  # how many of its image files went

    class Meta:
        table_name = "purge_items"
        primary_key = CompositeKey("purge_id", "read_id")


class UserRow(_Base):
    """A named web UI account (appliance.users holds the rules)."""

    id = IntegerField(primary_key=True)
    username = TextField(unique=True)  # lower case
    password_hash = TextField()  # Argon2id, parameters inside the hash
    role = TextField()
    created_at = TextField()
    disabled = BooleanField(default=False)
    totp_secret = TextField(null=True)  # schema v4 (issue #8) from here on
    totp_pending = TextField(null=True)
    totp_last_step = IntegerField(null=True)
    mfa_required = BooleanField(default=True)
    locked_at = TextField(null=True)
    last_active = TextField(null=True)
    session_epoch = IntegerField(default=0)

    class Meta:
        table_name = "users"


class SignInFailureRow(_Base):
    """One failed sign-in (password or second factor); five within 15 minutes lock the account."""

    id = IntegerField(primary_key=True)
    user_id = IntegerField()
    at = TextField()

    class Meta:
        table_name = "sign_in_failures"


class TrainingRow(_Base):
    """A completed course (POLICY TR-1); data pages need one that has not expired."""

    id = IntegerField(primary_key=True)
    user_id = IntegerField()
    course = TextField()
    version = TextField()
    completed = TextField()  # ISO date
    expires = TextField()  # ISO date, the last day it counts
    entered_by = TextField()
    entered_at = TextField()

    class Meta:
        table_name = "training_records"


class AccountEventRow(_Base):
    """A security event about an account (POLICY LG-6, TR-2): who did what to whom, when."""

    id = IntegerField(primary_key=True)
    at = TextField()
    actor = TextField()  # the username who acted, or "system" / "cli"
    username = TextField()
    event = TextField()
    detail = TextField()

    class Meta:
        table_name = "account_events"


class SettingRow(_Base):
    """A policy setting changed in the UI (schema v9): it overlays the config file's value (appliance/settings.py)."""

    key = TextField(primary_key=True)  # the dotted config key, e.g. store.retention_hit_days
    value = TextField()  # JSON
    changed_at = TextField()
    changed_by = TextField()

    class Meta:
        table_name = "settings"


class SchemaVersionRow(_Base):
    """One row per migration applied; the store's version is the highest."""

    version = IntegerField(primary_key=True)
    applied_at = TextField()
    breaks_older = IntegerField(default=0)  # v12: older software must not open a store past this version

    class Meta:
        table_name = "schema_version"


MODELS = (ReadRow, UserRow, SchemaVersionRow, PurgeRecordRow, PurgeItemRow, SignInFailureRow, TrainingRow,
          AccountEventRow, SettingRow)
