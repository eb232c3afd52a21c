"""The local encrypted store of reads and their images (SQLCipher in WAL mode, sealed image files)."""

from appliance.store.crypto import ImageDamagedError
from appliance.store.keys import HubBoundKey, KeyProvider, LocalKeyFile
from appliance.store.retention import PurgeReport, PurgeSchedule, RetentionPolicy, Watermarks
from appliance.store.store import IMAGE_KINDS, Store, StoredRead

__all__ = ["IMAGE_KINDS", "HubBoundKey", "ImageDamagedError", "KeyProvider", "LocalKeyFile", "PurgeReport",
           "PurgeSchedule", "RetentionPolicy", "Store", "StoredRead", "Watermarks"]
