"""Synthetic licence plates and camera degradations (used by the demo, tests and training)."""
