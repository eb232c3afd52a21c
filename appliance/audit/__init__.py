"""Access records (POLICY LG-1..LG-4): the append-only, hash-chained log of every access to plate data."""

from appliance.audit.records import AccessRecord, StoredRecord, append, latest, verify

__all__ = ["AccessRecord", "StoredRecord", "append", "latest", "verify"]
