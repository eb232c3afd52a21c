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


def store_target(a: argparse.Namespace) -> tuple[Path, LocalKeyFile]:
    """The store folder and its key provider named by the arguments."""
    if a.store:
        folder = Path(a.store)
    else:
        from appliance.config import load_config
        folder = Path(load_config(Path(a.config) if a.config else None, os.environ).store.path)
    return folder, LocalKeyFile(Path(a.key_file) if a.key_file else None)


def open_target(a: argparse.Namespace):
    """Open the store named by the arguments (use as a context manager)."""
    from appliance.store.store import Store
    folder, keys = store_target(a)
    if not a.key_file and (a.config or not a.store):  # store.unlock = "hub": the hub's secret opens it (DS-5)
        from appliance.config import load_config
        cfg = load_config(Path(a.config) if a.config else None, os.environ)
        if cfg.store.unlock == "hub":
            from appliance.hub.device_secret import hub_bound_key
            return Store.open(folder, keys=hub_bound_key(cfg))
    return Store.open(folder, keys=keys)
