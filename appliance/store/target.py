"""Which store a command-line tool works on: `--store DIR` or the config's store.path, and its key.

One definition for every command that opens the store outside the running device
(`alpr store`, `alpr user`, `alpr hub`, `alpr audit`).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from appliance.store.keys import LocalKeyFile, default_key_path


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    """--config, --store and --key-file."""
    p.add_argument("--config", help="TOML config file naming store.path (default /etc/alpr/alpr.toml)")
    p.add_argument("--store", help="store folder (default: store.path from the config)")
    p.add_argument("--key-file", help=f"master key file (default {default_key_path()})")


def _config(a: argparse.Namespace):
    from appliance.config import load_config
    return load_config(Path(a.config) if a.config else None, os.environ)


def store_target(a: argparse.Namespace, cfg=None) -> tuple[Path, LocalKeyFile]:
    """The store folder and its key provider named by the arguments (`cfg`: the config, if already loaded)."""
    folder = Path(a.store) if a.store else Path((cfg or _config(a)).store.path)
    return folder, LocalKeyFile(Path(a.key_file) if a.key_file else None)


def open_target(a: argparse.Namespace):
    """Open the store named by the arguments (use as a context manager)."""
    from appliance.store.store import Store
    cfg = _config(a) if a.config or not a.store else None  # read once: it names the folder and how to unlock
    folder, keys = store_target(a, cfg)
    if not a.key_file and cfg is not None and cfg.store.unlock == "hub":  # the hub's secret opens it (DS-5)
        from appliance.hub.device_secret import hub_bound_key
        return Store.open(folder, keys=hub_bound_key(cfg))
    return Store.open(folder, keys=keys)
