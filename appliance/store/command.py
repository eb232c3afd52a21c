"""`alpr store rotate-key`, `alpr store wipe` and `alpr store bind-hub`: the store's admin commands.

Both need the store closed everywhere (stop the alpr service and web UI first); the folder
lock refuses them otherwise. `cli.py` wires them with `add_parser(sub)`. `bind-hub` converts
a local-mode store to the hub-bound key (POLICY DS-5, appliance/hub/device_secret.py): set
`store.unlock = "hub"` in the config after it succeeds.
"""

from __future__ import annotations

import argparse

from appliance.store.target import add_store_arguments, store_target

CONFIRM_FLAG = "--yes-destroy-all-data"


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `store rotate-key` and `store wipe` to the `alpr` command group."""
    s = sub.add_parser("store", help="administer the encrypted store: rotate its key, crypto-wipe it "
                                     "(stop the alpr service first)")
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = ssub.add_parser("rotate-key", help="re-encrypt the database and re-wrap every image key under a new "
                                           "master key, without loss")
    w = ssub.add_parser("wipe", help="crypto-wipe a decommissioned device: destroy the key and the "
                                     "database's key material; nothing opens afterwards")
    b = ssub.add_parser("bind-hub", help="bind the store key to the hub (DS-5): wrap it under the device secret "
                                         "the hub hands this device over mutual TLS, then shred the key file")
    for p in (r, w, b):
        add_store_arguments(p)
    b.set_defaults(func=bind_hub)
    w.add_argument(CONFIRM_FLAG, dest="confirm", action="store_true",
                   help="required: say that every read and image on this device is to be destroyed")
    r.set_defaults(func=rotate)
    w.set_defaults(func=wipe)


def rotate(a: argparse.Namespace) -> int:
    from appliance.store.admin import rotate_key
    folder, keys = store_target(a)
    report = rotate_key(folder, keys)
    print(f"{folder}: master key rotated in {keys.path}; {report.reads} reads kept, "
          f"{report.image_keys} image keys re-wrapped")
    return 0


def bind_hub(a: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from appliance.config import load_config
    from appliance.hub.device_secret import bind_store_to_hub, hub_bound_key
    cfg = load_config(Path(a.config) if a.config else None, os.environ)
    if not (cfg.hub.url and cfg.hub.client_cert):
        print("alpr store bind-hub: the config needs hub.url, hub.client_cert and hub.client_private_pem "
              "(the device secret is handed over mutual TLS only)")
        return 2
    folder, keys = store_target(a)
    path = bind_store_to_hub(cfg, keys, hub_bound_key(cfg))
    print(f"{folder}: store key bound to the hub at {cfg.hub.url}; wrapped key in {path}, {keys.path} shredded. "
          "Set store.unlock = \"hub\" in the config, then start the device.")
    return 0


def wipe(a: argparse.Namespace) -> int:
    from appliance.store.admin import wipe as wipe_store
    folder, keys = store_target(a)
    if not a.confirm:
        print(f"alpr store wipe: this destroys every read and image in {folder} for good; "
              f"run it again with {CONFIRM_FLAG} to confirm")
        return 2
    report = wipe_store(folder, keys, confirm=True)
    for item in report.destroyed:
        print(f"destroyed {item}")
    for item in report.failed:
        print(f"could NOT destroy {item}: remove it by hand (e.g. systemd-creds / the credential store)")
    print(f"{folder}: crypto-wiped; nothing in it can be opened")
    return 1 if report.failed else 0


