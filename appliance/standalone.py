"""`python -m appliance.<area>.command ...`: one `alpr` subcommand run on its own.

Some subcommands (audit verify, evidence verify, hotlist import) are also run as modules,
e.g. from a recovery shell or a script that must not load the whole CLI. Their `main`
builds an `alpr` parser holding only that subcommand, so arguments, help and exit codes are
the same as `alpr COMMAND ...`; an error the command expects is printed as
"alpr COMMAND: ..." with exit 2, as `alpr` itself does (cli.main).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence


def run_standalone(add_parser: Callable[[argparse._SubParsersAction], None], command: str,
                   argv: Sequence[str] | None = None,
                   errors: type[BaseException] | tuple[type[BaseException], ...] = Exception) -> int:
    """Parse `argv` (default: sys.argv[1:]) as `alpr COMMAND argv...` and run it; `errors` are exit 2."""
    p = argparse.ArgumentParser(prog="alpr")
    add_parser(p.add_subparsers(dest="command", required=True))
    a = p.parse_args([command, *(sys.argv[1:] if argv is None else argv)])
    try:
        return a.func(a)
    except errors as exc:
        print(f"alpr {command}: {exc}", file=sys.stderr)
        return 2
