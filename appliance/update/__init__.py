"""Signed application bundles installed side by side, switched atomically, rolled back unless healthy (issue #12)."""
