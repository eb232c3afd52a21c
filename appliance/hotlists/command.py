"""`alpr hotlist import | list | show`: hotlists from the command line, through the same importer as the UI.

`import FILE --list NAME --format csv|ncic|json [--columns plate=Plate,...] [--check-only]`
prints the checker's report (look-alike twins, missing states, expired records,
duplicates) and every rejected line by number and reason, then replaces the list in one
transaction (unless --check-only). A list that does not exist yet is created with
--source (and --priority). Exit 0 when applied (or checked), 1 when --check-only found
warnings or rejected lines, 2 on a file or store that cannot be used. `cli.py` wires
this with `add_parser(sub)`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from appliance.hotlists import repository
from appliance.hotlists.importer import FORMATS, Outcome, parse_columns, run_import
from appliance.cli_auth import add_auth_arguments, authenticate_args
from appliance.hotlists.model import SOURCES, Hotlist, HotlistError, utc_now
from appliance.ids import uuid7
from appliance.roles import LIST_MANAGERS
from appliance.standalone import run_standalone
from appliance.store.target import add_store_arguments, open_target

__all__ = ["add_parser", "main", "find_list", "print_outcome"]

SHOWN = 50  # rejected lines and warnings printed per kind; the counts are always complete


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add `hotlist import|list|show` to the `alpr` command group."""
    h = sub.add_parser("hotlist", help="hotlists: import a file, list them, show one")
    hsub = h.add_subparsers(dest="action", required=True, metavar="ACTION")
    i = hsub.add_parser("import", help="check a list file and make it the whole list (atomically, logged)")
    i.add_argument("file", metavar="FILE", help="the list file")
    i.add_argument("--list", required=True, dest="list_name", help="the list's name (created if new)")
    i.add_argument("--format", required=True, choices=FORMATS, help="csv, ncic (fixed-width extract) or json (hub)")
    i.add_argument("--columns", default="", help="CSV column mapping, e.g. plate=Plate No,state=ST")
    i.add_argument("--check-only", action="store_true", help="report what the import would do; change nothing")
    i.add_argument("--source", choices=SOURCES, help="a new list's source (required when the list is new)")
    i.add_argument("--priority", type=int, default=3, help="a new list's priority, 1 (most urgent) to 5")
    add_store_arguments(i)
    add_auth_arguments(i)  # AC-10: a signed-in supervisor or administrator; recorded with the change (HL-1)
    i.set_defaults(func=import_file)
    ls = hsub.add_parser("list", help="every list: name, source, priority, entries, age")
    add_store_arguments(ls)
    ls.set_defaults(func=list_lists)
    s = hsub.add_parser("show", help="one list: its settings, its last imports and its entries")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--entries", type=int, default=20, help="entries to print (default 20)")
    add_store_arguments(s)
    add_auth_arguments(s)  # AC-10: entries are plate data
    s.set_defaults(func=show)


def find_list(store, name: str) -> Hotlist | None:
    """The list called `name` (case-insensitive), or None."""
    for row in store.database.execute_sql("SELECT id FROM hotlists WHERE lower(name) = lower(?)", (name.strip(),)):
        found = repository.get_list(store, row[0])
        if found is not None:
            return found
    return None


def import_file(a: argparse.Namespace) -> int:
    data = Path(a.file).read_bytes()
    now = utc_now()
    with open_target(a) as store:
        user = authenticate_args(store, a, roles=LIST_MANAGERS)
        hotlist = find_list(store, a.list_name)
        if hotlist is None:
            if not a.source:
                raise HotlistError(f"there is no list {a.list_name!r}; give --source ({', '.join(SOURCES)}) "
                                   "to create it")
            hotlist = Hotlist(uuid7(), a.list_name.strip(), a.source, priority=a.priority)
        outcome = run_import(store, hotlist, data, a.format, user.username, now, columns=parse_columns(a.columns),
                             check_only=a.check_only, client="cli")
    print_outcome(outcome, hotlist)
    if a.check_only:
        return 0 if outcome.report.clean and not outcome.parsed.rejected else 1
    return 0


def print_outcome(outcome: Outcome, hotlist: Hotlist, out=None) -> None:
    """The checker's report and the rejected lines, then what was applied."""
    out = out or sys.stdout
    p, r = outcome.parsed, outcome.report
    print(f"{len(p.entries)} entries read ({p.encoding}), {len(p.rejected)} lines rejected", file=out)
    for w in p.warnings:
        print(f"warning: {w}", file=out)
    for rej in p.rejected[:SHOWN]:
        print(f"rejected line {rej.line}: {rej.reason}", file=out)
    if len(p.rejected) > SHOWN:
        print(f"... and {len(p.rejected) - SHOWN} more rejected lines", file=out)
    print("check: " + ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in r.counts.items()), file=out)
    for kind in r.counts:
        for w in r.of_kind(kind)[:SHOWN]:
            print(f"  {kind.replace('_', ' ')}: {w.message}", file=out)
    if outcome.applied is None:
        print(f"check only: list {hotlist.name!r} not changed", file=out)
    else:
        log = outcome.applied
        print(f"list {hotlist.name!r} replaced by {log.who}: {log.entries} entries ({log.added} added, "
              f"{log.removed} removed, {log.changed} changed, {log.rejected} rejected)", file=out)


def list_lists(a: argparse.Namespace) -> int:
    now = utc_now()
    with open_target(a) as store:
        lists = repository.list_summaries(store)
    if not lists:
        print("no hotlists")
    for h, n in lists:
        print(f"{h.name}\t{h.source}\tpriority {h.priority}\t{n} entries\t{_age(h, now)}")
    return 0


def show(a: argparse.Namespace) -> int:
    now = utc_now()
    with open_target(a) as store:
        authenticate_args(store, a)
        h = find_list(store, a.name)
        if h is None:
            raise HotlistError(f"there is no list {a.name!r}; `alpr hotlist list` names them")
        entries, total = repository.entries_page(store, h.id, limit=a.entries)
        logs = repository.import_log(store, h.id, limit=5)
    print(f"{h.name} ({h.source}{', via ' + h.source_system if h.source_system else ''}), priority {h.priority}, "
          f"policy {h.policy} (look-alike budget {h.budget}), {total} entries, {_age(h, now)}")
    for log in logs:
        print(f"  {log.at:%Y-%m-%d %H:%M} UTC by {log.who}: {log.entries} entries, +{log.added} -{log.removed} "
              f"~{log.changed}, {log.rejected} rejected")
    for e in entries:
        expiry = "expired" if e.is_expired(now) else f"expires {e.expires_at:%Y-%m-%d}" if e.expires_at else ""
        print(f"  {e.plate}\t{e.state or '--'}\t{e.case_number}\t{e.reason}\t{expiry}")
    if total > len(entries):
        print(f"  ... and {total - len(entries)} more")
    return 0


def _age(h: Hotlist, now) -> str:
    age = h.age(now)
    return "never refreshed" if age is None else f"refreshed {age.total_seconds() / 3600:.1f} h ago"


def main(argv: list[str] | None = None) -> int:
    """`python -m appliance.hotlists.command import ...`, the same as `alpr hotlist import ...`."""
    return run_standalone(add_parser, "hotlist", argv, errors=(HotlistError, OSError))


if __name__ == "__main__":
    sys.exit(main())
