"""Hotlist sync: the agency's lists come from the hub, at start-up and every few minutes.

`GET {hub}/api/v1/hotlists` with `If-None-Match: <the ETag of the lists last applied>`;
304 means nothing changed (the lists' age is reset, nothing else is written). A 200 body is

    {"lists": [{"id", "name", "source", "priority", "entries": [
        {"plate" or "pattern", "state"?, "reason", "case", "entered_by"?, "entered_at"?, "expires"?}]}]}

Fields we do not know are kept as sent (table hotlist_extras, schema v11). A bad entry is
reported by list and index and skipped; a bad list (no id, unknown source ...) or one whose
every entry is bad is reported and left as it was. Then every good list is applied through
the hotlists repository's `replace_list` (one transaction for all of them: the matcher sees
either the old lists or the new ones, never a mix); a list this hub sent before and no
longer sends is emptied. If anything fails on the way (hub down, 500, a body that is not
JSON, a store error) the lists stay as they were and the error is logged and kept for the
health page and heartbeat (`sync_status`), with when the hub last answered well.

POLICY HL-1: every change goes through the repository's import log, `who` = "hub".
The requests use the forwarder's session and auth (Forwarder.hub_request): one hub, one
TLS setup. Runs on its own named thread ("hotlist-sync") with its own store connection.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import requests

from appliance.hotlists import repository
from appliance.hotlists.imports import Parsed, Rejected
from appliance.hotlists.model import (SOURCES, Hotlist, HotlistError, ImportFileError, from_rfc3339, synced_entry,
                                      to_rfc3339, utc_now)
from firmware.periodic import Periodic

log = logging.getLogger(__name__)

HOTLISTS_PATH = "/api/v1/hotlists"
WHO = "hub"  # the import log's who, and entered_by when the hub does not say
SOURCE_SYSTEM = "hub"  # marks the lists this sync owns (others are kept by hand or imported in the UI)
_LIST_KEYS = frozenset({"id", "name", "source", "priority", "policy", "lookalike_budget", "entries"})
_ENTRY_TEXT = ("state", "reason", "case", "description", "entered_by", "entered_at", "expires")
_ENTRY_KEYS = frozenset({"plate", "pattern", *_ENTRY_TEXT})
_REPORT_MAX = 200  # skipped entries kept in the stored report (all are logged)

Request = Callable[..., requests.Response]  # Forwarder.hub_request(method, path, headers=...)


@dataclass(frozen=True)
class Skipped:
    """One entry (index set) or whole list (index None) that was not applied, and why."""

    list: str  # the list's id, or "#N" (its place in the body) when it has no usable id
    index: int | None
    reason: str

    def as_json(self) -> dict:
        return {"list": self.list, "index": self.index, "reason": self.reason}


@dataclass(frozen=True)
class SyncResult:
    """What one fetch did: "applied", "unchanged" or "failed" (lists untouched, `error` says why)."""

    status: str
    lists: int = 0
    entries: int = 0
    skipped: tuple[Skipped, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class _List:
    hotlist: Hotlist
    parsed: Parsed
    sent: int  # entries the hub sent (0: the hub emptied the list on purpose)
    extras: dict = field(default_factory=dict)


def _text(obj: dict, key: str) -> str:
    v = obj.get(key)
    if v is not None and not isinstance(v, str):
        raise HotlistError(f'"{key}" must be a string or null; got {json.dumps(v)[:40]}')
    return v or ""


def _when(obj: dict, key: str) -> datetime | None:
    v = _text(obj, key)
    return from_rfc3339(v) if v else None


def _entry(list_id: str, obj: object, now: datetime):
    """(Entry, unknown fields) of one hub entry; raises HotlistError saying what is wrong."""
    if not isinstance(obj, dict):
        raise HotlistError(f"is a JSON {type(obj).__name__}; an entry must be an object with \"plate\" or \"pattern\"")
    plate, pattern = _text(obj, "plate").strip(), _text(obj, "pattern").strip()
    if bool(plate) == bool(pattern):
        raise HotlistError('an entry needs exactly one of "plate" or "pattern"')
    if plate and any(c in plate for c in "?*"):
        raise HotlistError(f'plate {plate!r} has wildcards: send it as "pattern"')
    entry = synced_entry(list_id, plate or pattern, entered_by=_text(obj, "entered_by").strip() or WHO,
                         entered_at=_when(obj, "entered_at") or now, state=_text(obj, "state"),
                         description=_text(obj, "description"), reason=_text(obj, "reason"),
                         case_number=_text(obj, "case"), expires_at=_when(obj, "expires"))
    return entry, {k: v for k, v in obj.items() if k not in _ENTRY_KEYS}


def _hotlist(obj: dict, refresh_s: int) -> Hotlist:
    for key in ("id", "name"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise HotlistError(f'a list needs "{key}", a non-empty string')
    if len(obj["id"]) > 64:
        raise HotlistError(f"a list id is at most 64 characters; got {len(obj['id'])}")
    if obj.get("source") not in SOURCES:
        raise HotlistError(f'"source" must be one of {", ".join(SOURCES)}; got {obj.get("source")!r}')
    priority = obj.get("priority", 3)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise HotlistError(f'"priority" must be a whole number from 1 to 5; got {priority!r}')
    optional = {k: obj[k] for k in ("policy", "lookalike_budget") if k in obj}
    return Hotlist(obj["id"], obj["name"].strip(), obj["source"], priority, source_system=SOURCE_SYSTEM,
                   refresh_interval_s=refresh_s, **optional)


def parse_lists(data: bytes, now: datetime, refresh_s: int = 0) -> tuple[list[_List], list[Skipped]]:
    """The hub's body as lists to apply and what was skipped; ImportFileError when the body is unusable."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"the hub's hotlists answer is not JSON ({exc}); the lists were left as they were") from None
    if not isinstance(body, dict) or not isinstance(body.get("lists"), list):
        raise ImportFileError('the hub\'s hotlists answer must be an object with a "lists" array; '
                              "the lists were left as they were")
    good: list[_List] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for i, obj in enumerate(body["lists"]):
        name = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else f"#{i}"
        try:
            if not isinstance(obj, dict):
                raise HotlistError(f"is a JSON {type(obj).__name__}, not a list object")
            if name in seen:
                raise HotlistError("the same list id comes twice in the answer")
            hotlist = _hotlist(obj, refresh_s)
            if not isinstance(obj.get("entries"), list):
                raise HotlistError('a list needs an "entries" array (empty to clear the list)')
        except (HotlistError, TypeError) as exc:
            skipped.append(Skipped(name, None, f"list skipped, kept as it was: {exc}"))
            continue
        seen.add(name)
        entries, rejected, extras = [], [], {}
        for n, raw in enumerate(obj["entries"]):
            try:
                entry, unknown = _entry(hotlist.id, raw, now)
            except (HotlistError, ValueError, TypeError) as exc:
                rejected.append(Rejected(n, str(exc), json.dumps(raw)[:120]))
                skipped.append(Skipped(hotlist.id, n, str(exc)))
                continue
            entries.append(entry)
            if unknown:
                extras[f"{entry.plate}|{entry.state}|{entry.case_number}"] = unknown
        if obj["entries"] and not entries:
            skipped.append(Skipped(hotlist.id, None, "list skipped, kept as it was: every entry was bad"))
            continue
        warnings = ("rejected line numbers are entry indexes (from 0) in the hub's list",) if rejected else ()
        parsed = Parsed(tuple(entries), list(range(len(entries))), tuple(rejected), warnings, "utf-8")
        list_extras = {k: v for k, v in obj.items() if k not in _LIST_KEYS}
        good.append(_List(hotlist, parsed, len(obj["entries"]), {"list": list_extras, "entries": extras}))
    return good, skipped


class HotlistSync:
    """Fetches the hub's lists into `store` now and every `interval_s` until stopped."""

    def __init__(self, store, request: Request, hub: str, *, interval_s: float = 300.0,
                 replace_list: Callable = repository.replace_list, clock: Callable[[], datetime] = utc_now) -> None:
        if interval_s <= 0:
            raise ValueError(f"the hotlist refresh interval must be positive; got {interval_s}")
        self.store = store
        self.hub = hub  # the hub's base URL: the key of its sync state
        self.interval_s = interval_s
        self._request = request
        self._replace_list = replace_list  # the repository's; tests pass one that fails part-way
        self._clock = clock
        # fetch at once, then every interval; the thread's store connection is closed as it ends
        self._worker = Periodic("hotlist-sync", self.run_once, interval_s, on_exit=store.disconnect)

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Fetch now and every `interval_s` on the "hotlist-sync" thread (once: a second start raises)."""
        self._worker.start()

    def stop(self, timeout: float = 15.0) -> bool:
        """End the thread after its current fetch; True if it ended."""
        return self._worker.stop(timeout)

    # -- one fetch -----------------------------------------------------------------------

    def run_once(self) -> SyncResult:
        """Fetch and apply the hub's lists once; hub trouble is returned (and logged), never raised."""
        state = _state(self.store, self.hub)
        headers = {"Accept": "application/json"}
        if state.get("etag"):
            headers["If-None-Match"] = state["etag"]
        try:
            r = self._request("GET", HOTLISTS_PATH, headers=headers)
        except requests.Timeout:
            return self._failed("the hub did not answer the hotlists request in time")
        except requests.RequestException as exc:
            from appliance.hub.tls import describe_failure
            return self._failed(f"could not fetch the hotlists: {describe_failure(exc)}")
        now = self._clock()
        if r.status_code == 304:
            return self._unchanged(now)
        if r.status_code != 200:
            return self._failed(f"the hub answered the hotlists request with HTTP {r.status_code}")
        digest = hashlib.sha256(r.content).hexdigest()
        if digest == state.get("body_sha256") and not r.headers.get("ETag"):
            return self._unchanged(now)
        try:
            lists, skipped = parse_lists(r.content, now, int(self.interval_s))
        except ImportFileError as exc:
            return self._failed(str(exc))
        try:
            self._apply(lists, skipped, now, r.headers.get("ETag"), digest)
        except Exception as exc:  # the transaction rolled back: the old lists stand
            log.exception("applying the hub's hotlists failed")
            return self._failed(f"applying the hub's hotlists failed, lists unchanged: {type(exc).__name__}: {exc}")
        for s in skipped:
            log.warning("hotlist sync skipped list %s%s: %s", s.list, "" if s.index is None else f" entry {s.index}",
                        s.reason)
        entries = sum(len(x.parsed.entries) for x in lists)
        log.info("hotlists from the hub applied: %d lists, %d entries, %d skipped", len(lists), entries, len(skipped))
        return SyncResult("applied", len(lists), entries, tuple(skipped))

    def _apply(self, lists: list[_List], skipped: list[Skipped], now: datetime, etag: str | None, digest: str) -> None:
        """Every list, the extras and the sync state in one transaction."""
        db = self.store.database
        sent = {x.hotlist.id for x in lists} | {s.list for s in skipped if s.index is None}
        with db.atomic():
            for x in lists:
                self._replace_list(self.store, x.hotlist, x.parsed, WHO, now=now, allow_empty=x.sent == 0)
                db.execute_sql("INSERT INTO hotlist_extras (list_id, fields) VALUES (?, ?) ON CONFLICT (list_id) "
                               "DO UPDATE SET fields = excluded.fields", (x.hotlist.id, json.dumps(x.extras)))
            for hotlist in repository.lists_from(self.store, SOURCE_SYSTEM):
                if hotlist.id not in sent:  # the hub dropped it
                    self._replace_list(self.store, hotlist, [], WHO, now=now, allow_empty=True)
                    db.execute_sql("DELETE FROM hotlist_extras WHERE list_id = ?", (hotlist.id,))
            report = json.dumps([s.as_json() for s in skipped[:_REPORT_MAX]])
            entries = sum(len(x.parsed.entries) for x in lists)
            _upsert(db, self.hub, etag=etag, checked_at=to_rfc3339(now), applied_at=to_rfc3339(now), lists=len(lists),
                    entries=entries, rejected=len(skipped), report=report, body_sha256=digest, last_error=None,
                    last_error_at=None)

    def _unchanged(self, now: datetime) -> SyncResult:
        """The hub confirmed our lists are current: they are as young as this answer (HL-2)."""
        db = self.store.database
        with db.atomic():
            _upsert(db, self.hub, checked_at=to_rfc3339(now), last_error=None, last_error_at=None)
            db.execute_sql("UPDATE hotlists SET refreshed_at = ? WHERE source_system = ?", (to_rfc3339(now), SOURCE_SYSTEM))
        log.debug("hotlists unchanged at the hub")
        return SyncResult("unchanged")

    def _failed(self, error: str) -> SyncResult:
        log.error("hotlist sync: %s; the lists stay as they were", error)
        with self.store.database.atomic():
            _upsert(self.store.database, self.hub, last_error=error[:500], last_error_at=to_rfc3339(self._clock()))
        return SyncResult("failed", error=error)

    def status(self) -> dict:
        return sync_status(self.store, self._clock())


_STATE = ("hub", "etag", "checked_at", "applied_at", "lists", "entries", "rejected", "report", "body_sha256",
          "last_error", "last_error_at")


def _upsert(db, hub: str, **values) -> None:
    """Set these columns of `hub`'s sync state (a write first: it takes the write lock at once)."""
    names = list(values)
    db.execute_sql(f"INSERT INTO hotlist_sync (hub, {', '.join(names)}) VALUES (?{', ?' * len(names)}) "
                   f"ON CONFLICT (hub) DO UPDATE SET {', '.join(f'{n} = excluded.{n}' for n in names)}",
                   (hub, *values.values()))


def _state(store, hub: str) -> dict:
    row = store.database.execute_sql(f"SELECT {', '.join(_STATE)} FROM hotlist_sync WHERE hub = ?", (hub,)).fetchone()
    return {} if row is None else dict(zip(_STATE, row))


def sync_status(store, now: datetime) -> dict:
    """The lists' age and the last sync's outcome, for the health page and the heartbeat ({} if never synced)."""
    row = store.database.execute_sql(f"SELECT {', '.join(_STATE)} FROM hotlist_sync "
                                     "ORDER BY checked_at DESC LIMIT 1").fetchone()
    if row is None:
        return {}
    s = dict(zip(_STATE, row))
    age = None if s["checked_at"] is None else round((now - from_rfc3339(s["checked_at"])).total_seconds(), 1)
    return {"hotlists_checked_at": s["checked_at"], "hotlists_age_s": age, "hotlists_etag": s["etag"],
            "hotlists_applied_at": s["applied_at"], "hotlists_lists": s["lists"], "hotlists_entries": s["entries"],
            "hotlists_skipped": s["rejected"], "hotlists_last_error": s["last_error"],
            "hotlists_last_error_at": s["last_error_at"]}


def kept_fields(store, list_id: str) -> dict:
    """The fields the hub sent for `list_id` that this software does not know ({} if none)."""
    row = store.database.execute_sql("SELECT fields FROM hotlist_extras WHERE list_id = ?", (list_id,)).fetchone()
    return {} if row is None else json.loads(row[0])
