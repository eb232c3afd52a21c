"""Hotlists in the store (schema v6): replace a list atomically, load every list, build the Matcher.

A list is only ever replaced whole (an import, a sync, or the UI's edit of one entry
writing the list back): the old entries and the new ones, the list's own row and the
import-log row go in one transaction, so the matcher never sees half a list and every
change says who made it, when, and how many entries were added, removed, changed and
rejected (POLICY HL-1, LG-6). The transaction starts with a write, so the busy timeout
serialises it with the pipeline's writer thread (WAL), as the outbox's writes do.

The import log's row number doubles as the lists' version: `MatcherCache` rebuilds its
Matcher only when it moves, so the writer thread checks one indexed integer per read, and
the rebuild runs on a thread of its own (the writer keeps the old Matcher meanwhile).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from appliance.hotlists import imports
from appliance.hotlists.matching import Matcher
from appliance.hotlists.model import Entry, Hotlist, HotlistError, Renewal, from_rfc3339, to_rfc3339, utc_now

__all__ = ["ImportLog", "replace_list", "load_lists", "load_list", "get_list", "list_summaries", "lists_from",
           "entries_page", "entry_count", "import_log", "lists_version", "MatcherCache"]

log = logging.getLogger(__name__)

_ENTRY_COLUMNS = ("id", "list_id", "plate", "state", "description", "reason", "case_number", "entered_by",
                  "entered_at", "expires_at", "manual", "renewals")
_LIST_COLUMNS = ("id", "name", "source", "priority", "source_system", "refreshed_at", "refresh_interval_s",
                 "policy", "lookalike_budget")
_CHUNK = 5000


@dataclass(frozen=True)
class ImportLog:
    """One replacement of a list: who, when, and what it changed."""

    n: int
    list_id: str
    at: datetime
    who: str
    entries: int
    added: int
    removed: int
    changed: int
    rejected: int
    detail: dict


def _t(t: datetime | None) -> str | None:
    return None if t is None else to_rfc3339(t)


def _entry_row(e: Entry) -> tuple:
    renewals = [{"at": to_rfc3339(r.at), "by": r.by, "reason": r.reason, "expires_at": to_rfc3339(r.expires_at)}
                for r in e.renewals]
    return (e.id, e.list_id, e.plate, e.state, e.description, e.reason, e.case_number, e.entered_by,
            to_rfc3339(e.entered_at), _t(e.expires_at), int(e.manual), json.dumps(renewals))


def _entry_of(row: Sequence) -> Entry:
    d = dict(zip(_ENTRY_COLUMNS, row))
    renewals = tuple(Renewal(from_rfc3339(r["at"]), r["by"], r["reason"], from_rfc3339(r["expires_at"]))
                     for r in json.loads(d["renewals"]))
    return Entry(d["id"], d["list_id"], d["plate"], d["entered_by"], from_rfc3339(d["entered_at"]), d["state"],
                 d["description"], d["reason"], d["case_number"],
                 None if d["expires_at"] is None else from_rfc3339(d["expires_at"]), bool(d["manual"]), renewals)


def _list_of(row: Sequence) -> Hotlist:
    d = dict(zip(_LIST_COLUMNS, row))
    return Hotlist(**{**d, "refreshed_at": None if d["refreshed_at"] is None else from_rfc3339(d["refreshed_at"])})


def replace_list(store, hotlist: Hotlist, entries: Sequence[Entry] | imports.Parsed, who: str, *,
                 now: datetime | None = None, allow_empty: bool = False, client: str = "local",
                 agency: str = "") -> ImportLog:
    """Make `entries` the whole of `hotlist` in one transaction and log who did it; return the log row.

    `entries` may be an importer's Parsed result: its rejected lines are counted and listed
    in the log. Entries already on the list (same plate, state and case number) keep their
    ids, so alerts that name them still do. The list's refreshed_at becomes `now`.
    Every replacement is also an access record ("hotlist change", POLICY LG-1, LG-6) in the
    same transaction: `client` is where it came from (an address, "cli", "local" for a sync).
    """
    if not isinstance(who, str) or not who.strip():
        raise HotlistError("replacing a list needs the username (or source system) of who does it (HL-1)")
    now = now or utc_now()
    new = entries.entries if isinstance(entries, imports.Parsed) else tuple(entries)
    wrong = next((e for e in new if e.list_id != hotlist.id), None)
    if wrong is not None:
        raise HotlistError(f"entry {wrong.id} belongs to list {wrong.list_id}, not to {hotlist.id} being replaced")
    hotlist = replace(hotlist, refreshed_at=now)
    db = store.database
    with db.atomic():
        # A write first: the transaction takes the write lock now, not after reading (see outbox.py).
        db.execute_sql(f"INSERT INTO hotlists ({', '.join(_LIST_COLUMNS)}) VALUES ({', '.join('?' * 9)}) "
                       "ON CONFLICT (id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _LIST_COLUMNS[1:]),
                       _list_row(hotlist))
        old = _entries_of(db, hotlist.id)
        result = imports.replace_list(old, entries, allow_empty=allow_empty)
        db.execute_sql("DELETE FROM hotlist_entries WHERE list_id = ?", (hotlist.id,))
        cursor = db.cursor()
        rows = [_entry_row(e) for e in result.entries]
        for i in range(0, len(rows), _CHUNK):
            cursor.executemany(f"INSERT INTO hotlist_entries ({', '.join(_ENTRY_COLUMNS)}) "
                               f"VALUES ({', '.join('?' * len(_ENTRY_COLUMNS))})", rows[i:i + _CHUNK])
        detail = {"kept": result.kept, "warnings": list(result.warnings),
                  "rejected_lines": [{"line": r.line, "reason": r.reason} for r in result.rejected]}
        cursor.execute("INSERT INTO hotlist_imports (list_id, at, who, entries, added, removed, changed, rejected, "
                       "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (hotlist.id, to_rfc3339(now), who.strip(), len(result.entries), result.added, result.removed,
                        result.changed, result.rejected_count, json.dumps(detail)))
        n = cursor.lastrowid
        _record_change(db, hotlist, who.strip(), now, client, agency, len(result.entries),
                       {"added": result.added, "removed": result.removed, "changed": result.changed,
                        "rejected": result.rejected_count})
    log.info("hotlist %s replaced by %s: %d entries (%d added, %d removed, %d changed, %d rejected)",
             hotlist.id, who, len(result.entries), result.added, result.removed, result.changed, result.rejected_count)
    return ImportLog(n, hotlist.id, now, who.strip(), len(result.entries), result.added, result.removed,
                     result.changed, result.rejected_count, detail)


def _record_change(db, hotlist: Hotlist, who: str, now: datetime, client: str, agency: str, count: int,
                   counts: dict) -> None:
    """The access record of a list replacement, in its transaction: no record, no change (LG-4)."""
    from appliance.audit.records import AccessRecord, append  # audit imports the store; keep this lazy
    append(db, AccessRecord(username=who, action="hotlist change", client=client or "local",
                            purpose_category="hotlist change", agency=agency, at=now, result_count=count,
                            query={"list_id": hotlist.id, "list": hotlist.name, "source": hotlist.source, **counts}))


def _list_row(h: Hotlist) -> tuple:
    return (h.id, h.name, h.source, h.priority, h.source_system, _t(h.refreshed_at), h.refresh_interval_s,
            h.policy, h.lookalike_budget)


def _entries_of(db, list_id: str) -> list[Entry]:
    rows = db.execute_sql(f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM hotlist_entries WHERE list_id = ? ORDER BY id",
                          (list_id,)).fetchall()
    return [_entry_of(r) for r in rows]


def load_list(store, list_id: str) -> tuple[Hotlist, list[Entry]] | None:
    """One list and all its entries (to write it back whole), or None when there is no such list."""
    hotlist = get_list(store, list_id)
    return None if hotlist is None else (hotlist, _entries_of(store.database, list_id))


def get_list(store, list_id: str) -> Hotlist | None:
    """One list's settings without its entries (an alert names its list; a list may hold a million entries)."""
    row = store.database.execute_sql(f"SELECT {', '.join(_LIST_COLUMNS)} FROM hotlists WHERE id = ?",
                                     (list_id,)).fetchone()
    return None if row is None else _list_of(row)


def list_summaries(store) -> list[tuple[Hotlist, int]]:
    """Every list with its entry count, most urgent first: counted in SQL, no entry is loaded."""
    columns = ", ".join(f"h.{c}" for c in _LIST_COLUMNS)
    rows = store.database.execute_sql(
        f"SELECT {columns}, (SELECT COUNT(*) FROM hotlist_entries e WHERE e.list_id = h.id) "
        "FROM hotlists h ORDER BY h.priority, h.name, h.id").fetchall()
    return [(_list_of(r[:-1]), int(r[-1])) for r in rows]


def lists_from(store, source_system: str) -> list[Hotlist]:
    """The lists a source system (the hub's sync) owns, without their entries."""
    rows = store.database.execute_sql(f"SELECT {', '.join(_LIST_COLUMNS)} FROM hotlists WHERE source_system = ? "
                                      "ORDER BY id", (source_system,)).fetchall()
    return [_list_of(r) for r in rows]


def entries_page(store, list_id: str, containing: str = "", limit: int = 500) -> tuple[list[Entry], int]:
    """The first `limit` entries of a list whose plate contains `containing`, and the list's entry count.

    What a list page shows: the query reads at most `limit` rows however long the list is.
    `containing` is matched literally (instr), so a pattern entry such as 7AB*12 is found
    by typing its `*`.
    """
    rows = store.database.execute_sql(f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM hotlist_entries "
                                      "WHERE list_id = ? AND instr(plate, ?) > 0 ORDER BY id LIMIT ?",
                                      (list_id, containing, max(0, limit))).fetchall()
    return [_entry_of(r) for r in rows], entry_count(store, list_id)


def entry_count(store, list_id: str) -> int:
    """How many entries a list holds, counted in SQL (the list_id index)."""
    (n,) = store.database.execute_sql("SELECT COUNT(*) FROM hotlist_entries WHERE list_id = ?", (list_id,)).fetchone()
    return int(n)


def load_lists(store) -> list[tuple[Hotlist, list[Entry]]]:
    """Every list with its entries (expired ones too: the matcher skips them at match time)."""
    db = store.database
    lists = {r[0]: _list_of(r) for r in db.execute_sql(f"SELECT {', '.join(_LIST_COLUMNS)} FROM hotlists "
                                                        "ORDER BY priority, id")}
    grouped: dict[str, list[Entry]] = {k: [] for k in lists}
    for r in db.execute_sql(f"SELECT {', '.join(_ENTRY_COLUMNS)} FROM hotlist_entries ORDER BY list_id, id"):
        grouped[r[1]].append(_entry_of(r))
    return [(h, grouped[k]) for k, h in lists.items()]


def import_log(store, list_id: str | None = None, limit: int = 50) -> list[ImportLog]:
    """The latest list replacements, newest first (one list's when `list_id` is given)."""
    where, args = ("WHERE list_id = ?", (list_id, limit)) if list_id else ("", (limit,))
    rows = store.database.execute_sql(
        "SELECT n, list_id, at, who, entries, added, removed, changed, rejected, detail FROM hotlist_imports "
        f"{where} ORDER BY n DESC LIMIT ?", args).fetchall()
    return [ImportLog(r[0], r[1], from_rfc3339(r[2]), r[3], *r[4:9], json.loads(r[9])) for r in rows]


def lists_version(store) -> int:
    """A number that moves whenever any list is replaced (0: no list ever stored)."""
    (n,) = store.database.execute_sql("SELECT COALESCE(MAX(n), 0) FROM hotlist_imports").fetchone()
    return int(n)


class MatcherCache:
    """The Matcher over every stored list, rebuilt on its own thread when a list was replaced.

    Building it for a million entries takes seconds (stored_index.py), too long for the
    pipeline's writer thread, whose queue is bounded: so the writer asks `latest()`, which
    never builds. It answers the Matcher built last at once and, when the lists version
    moved, starts a build on a "hotlist-matcher" thread with its own store connection; the
    new Matcher replaces the old in one assignment under the lock. Reads stored meanwhile
    were matched against the old lists: the retrospective matcher (alerts/retro.py) waits
    for the new Matcher through `current()` and then matches every recent read against it.

    Before the first build `latest()` answers an empty Matcher; the device never sees that,
    as runtime.build_pipeline calls `prepare()` before the pipeline starts (start-up waits
    for a huge list), and if that build fails the retrospective matcher's first scan
    checks the reads stored without it.
    """

    retry_s = 30.0  # after a failed build, `latest()` starts the next no sooner than this

    def __init__(self, store, clock: Callable[[], datetime] = utc_now,
                 build: Callable[[object, Callable[[], datetime]], tuple[int, Matcher]] | None = None) -> None:
        self.store = store
        self.clock = clock
        self._build = build or _load_matcher
        self._built: tuple[int, Matcher] | None = None  # (lists version, its Matcher): swapped whole
        self._lock = threading.Lock()  # the writer, the builder and the retrospective matcher share one index
        self._finished = threading.Condition(self._lock)
        self._building: threading.Thread | None = None
        self._builds = 0  # finished builds, failed ones too
        self._failure: Exception | None = None  # of the last finished build
        self._failed_at = float("-inf")
        self._empty = Matcher((), clock)

    @property
    def version(self) -> int:
        """The lists version the current Matcher was built from (-1 before the first build)."""
        built = self._built
        return -1 if built is None else built[0]

    def latest(self) -> Matcher:
        """The Matcher built last, at once (one small query); a changed list starts a build in the background."""
        version = lists_version(self.store)
        with self._lock:
            built = self._built
            if (built is None or built[0] != version) and self._building is None \
                    and time.monotonic() - self._failed_at >= self.retry_s:
                self._start()
            return self._empty if built is None else built[1]

    def current(self) -> Matcher:
        """The Matcher for the lists as stored now, waiting for its build; never on the pipeline's writer thread.

        Raises what the build raised when the build it waited for failed.
        """
        version = lists_version(self.store)
        with self._lock:
            while self._built is None or self._built[0] < version:
                if self._building is None:
                    self._start()
                ticket = self._builds
                while self._builds == ticket:
                    self._finished.wait()
                if self._failure is not None:
                    raise self._failure
            return self._built[1]

    def prepare(self) -> bool:
        """Build the first Matcher now (start-up); a failure is logged and retried in the background. True if built."""
        try:
            self.current()
            return True
        except Exception:
            log.exception("the hotlist matcher could not be built at start; reads are matched once it is")
            return False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a build in progress to finish; True when none is running."""
        with self._lock:
            return self._finished.wait_for(lambda: self._building is None, timeout)

    def _start(self) -> None:
        """Start a build (the lock is held)."""
        self._building = threading.Thread(target=self._run, name="hotlist-matcher", daemon=True)
        self._building.start()

    def _run(self) -> None:
        t0 = time.monotonic()
        try:
            built = self._build(self.store, self.clock)
        except Exception as e:  # the old Matcher stays in use; `latest()` retries after retry_s
            log.exception("hotlist matcher build failed; matching goes on against the lists as they were")
            built, failure = None, e
        else:
            failure = None
            log.info("hotlist matcher rebuilt in %.1f s: %d entries (lists version %d)", time.monotonic() - t0,
                     built[1].size, built[0])
        finally:
            self.store.disconnect()  # this thread's connection
        with self._lock:
            if built is not None and (self._built is None or built[0] >= self._built[0]):
                self._built = built  # the swap: one reference, version and Matcher together
            self._failure = failure
            self._failed_at = time.monotonic() if failure else float("-inf")
            self._building = None
            self._builds += 1
            self._finished.notify_all()


def _load_matcher(store, clock: Callable[[], datetime]) -> tuple[int, Matcher]:
    from appliance.hotlists.stored_index import load_matcher  # it imports this module
    return load_matcher(store, clock)
