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

from peewee import BlobField, BooleanField, CharField, FloatField, IntegerField, Model, SqliteDatabase, TextField

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

    class Meta:
        table_name = "reads"


class UserRow(_Base):
    """A named web UI account (appliance.users holds the rules)."""

    id = IntegerField(primary_key=True)
    username = TextField(unique=True)  # lower case
    password_hash = TextField()  # Argon2id, parameters inside the hash
    role = TextField()
    created_at = TextField()
    disabled = BooleanField(default=False)

    class Meta:
        table_name = "users"


class SchemaVersionRow(_Base):
    """One row per migration applied; the store's version is the highest."""

    version = IntegerField(primary_key=True)
    applied_at = TextField()

    class Meta:
        table_name = "schema_version"


MODELS = (ReadRow, UserRow, SchemaVersionRow)
