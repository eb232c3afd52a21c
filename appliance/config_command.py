"""`alpr config check FILE`: validate a config file before it goes on a device.

`python -m appliance.config_command FILE` does the same; `--markdown` prints the field
table that docs/configuration.md holds (a test keeps the two equal).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from appliance.config import Config, FieldInfo, config_fields, load_config
from appliance.errors import ConfigError

EXIT_OK, EXIT_INVALID = 0, 2
_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path"}


def summary(c: Config) -> list[str]:
    """A few lines saying what the device will do with this config."""
    pins = {k: v for k, v in vars(c.io).items() if v is not None}
    where = f"{c.location.lat}, {c.location.lon}" if c.location.lat is not None else "location unset"
    return [
        f"device {c.device.id} ({c.device.site_name or 'no site name'}), {where}",
        f"camera {c.camera.camera_id}: {c.camera.backend} {c.camera.source!r} "
        f"{c.camera.width}x{c.camera.height} @ {c.camera.fps} fps",
        f"store {c.store.path}" + ("" if c.store.keep_frame else " (plate crops only for non-hits)"),
        f"web {'https' if c.web.tls else 'http'}://{c.web.host}:{c.web.port}",
        f"hub {c.hub.url or 'none'}",
        "io " + (", ".join(f"{k}={v}" for k, v in pins.items()) or "none"),
    ]


def check(path: Path | str, env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Print "FILE: ok" and a summary (exit 0), or every problem (exit 2).

    Only the file is checked unless `env` is given: the overrides of a running service
    live in its unit, not in the shell that runs the check.
    """
    out = out or sys.stdout
    try:
        config = load_config(Path(path), env or {})
    except ConfigError as exc:
        n = len(exc.errors)
        print(f"{path}: {n} problem{'s' if n > 1 else ''}", file=out)
        for line in exc.errors:
            print(f"  - {line.removeprefix(f'{path}: ')}", file=out)
        return EXIT_INVALID
    print(f"{path}: ok", file=out)
    for line in summary(config):
        print(f"  {line}", file=out)
    return EXIT_OK


def toml_value(value: Any) -> str:
    """A default written as TOML (and as the docs show it)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, Path)):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def type_name(info: FieldInfo) -> str:
    """The field's type in the docs' words."""
    name = _TYPE_NAMES[info.type]
    if info.meta["choices"]:
        name = "one of " + ", ".join(f"`{c}`" for c in info.meta["choices"])
    elif info.meta["lo"] is not None:
        name += f", {info.meta['lo']:g} to {info.meta['hi']:g}"
    elif info.meta["pattern"]:
        name = "name"  # the rule is spelled out under the table
    return name + (", optional" if info.optional else "")


def markdown_rows() -> list[str]:
    """One table row per field: key, type, default, description."""
    rows = []
    for info in config_fields():
        default = "(unset)" if info.default is None else f"`{toml_value(info.default)}`"
        rows.append(f"| `{info.key}` | {type_name(info)} | {default} | {info.doc} |")
    return rows


def markdown_table() -> str:
    head = "| key | type | default | description |\n|---|---|---|---|\n"
    return head + "\n".join(markdown_rows()) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m appliance.config_command", description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", metavar="FILE", help="the config file to check")
    p.add_argument("--markdown", action="store_true", help="print the field table of docs/configuration.md")
    a = p.parse_args(argv)
    if a.markdown:
        sys.stdout.write(markdown_table())
        return EXIT_OK
    if not a.file:
        p.error("give a FILE to check, or --markdown")
    return check(a.file)


if __name__ == "__main__":
    sys.exit(main())
