"""The local store of reads and their images (SQLite in WAL mode; encryption comes later)."""

from appliance.store.store import IMAGE_KINDS, Store, StoredRead

__all__ = ["IMAGE_KINDS", "Store", "StoredRead"]
