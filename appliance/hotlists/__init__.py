"""Hotlists: lists of wanted plates, imports and their checker, and matching reads against them (issue #7)."""

from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import Entry, Hit, Hotlist, HotlistError, ImportFileError, manual_entry, synced_entry

__all__ = ["Entry", "Hit", "Hotlist", "HotlistError", "ImportFileError", "Matcher", "manual_entry", "synced_entry"]
