"""Store-and-forward to the agency hub: the outbox goes out in batches until the hub acknowledges it.

Protocol (push v1, DESIGN.md "Hub API"): `POST {hub}/api/v1/ingest` with JSON
`{"device": ID, "batch": UUID, "items": [...]}`; the hub answers 2xx with `{"ack": [ids]}`.
A record leaves the outbox only when its id is in an ack (and its "confirmed by the hub"
mark is set in the same transaction, store/outbox.py); an ack naming part of the batch is
normal and the rest goes again in the next batch. Anything else (a refused connection, a
timeout, a reset, a non-2xx answer, a body without an ack list, an ack of nothing) is a
failed attempt: the same records go again after an exponential backoff with jitter,
capped at 30 s. Sending again is safe because every record keeps its UUID: the hub drops
what it already has. So a crash anywhere (between the hub storing a batch and us hearing
its answer included) costs a resend, never a record.

Threading: the forwarder runs on its own named thread ("hub-forwarder") with its own
connection to the store (peewee gives each thread one). Its writes (acknowledgements,
failure counts) are short transactions that begin with a write, so SQLite's busy timeout
serialises them with the pipeline's writer thread in WAL mode rather than failing them;
the reads it renders never block anyone. This keeps slow hub answers (up to the timeout)
off the writer thread, which must never wait on the network. `run_once()` is the same
work without the thread, for tests and tools.

Alerts go first (the outbox orders by priority). POLICY SH-1: the only destination is the
configured hub URL; plain http:// is refused except to a loopback address (tests, demo).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
import requests

from appliance.hub.items import render
from appliance.ids import uuid7
from appliance.store import Store
from appliance.store.times import to_rfc3339
from appliance.hub.tls import Cause, check_hub_url, describe_failure, describe_status, hub_session

log = logging.getLogger(__name__)

INGEST_PATH = "/api/v1/ingest"
MAX_DELAY_S = 30.0
MAX_BATCH = 1000


def ingest_url(hub_url: str) -> str:
    """`{hub}/api/v1/ingest`, after checking the hub URL: https, or http to a loopback host only (DS-1)."""
    return check_hub_url(hub_url) + INGEST_PATH




class Backoff:
    """Exponential backoff with "equal jitter": after the n-th failure in a row, a delay between
    half and all of min(cap, base * 2**(n-1)); jitter keeps a fleet of poles from retrying in step."""

    def __init__(self, base_s: float = 0.5, cap_s: float = MAX_DELAY_S,
                 rand: Callable[[], float] = random.random) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(f"backoff base must be above 0 and at most the cap ({cap_s} s); got {base_s}")
        self.base_s, self.cap_s, self._rand = base_s, cap_s, rand
        self.failures = 0

    def failure(self) -> float:
        """Note a failure; the delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 32))
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True)
class Attempt:
    """What one `run_once` did: records sent, acknowledged, and why it failed (None: it did not)."""

    sent: int
    acked: int
    error: str | None = None


def backlog_stats(store: Store, now: datetime) -> dict:
    """The outbox backlog as plain values: count, per kind, the oldest item's age in seconds."""
    b = store.outbox_backlog()
    age = None if b.oldest is None else round((now - b.oldest).total_seconds(), 1)
    return {"backlog": b.count, "backlog_by_kind": b.by_kind, "backlog_oldest_age_s": age}


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Forwarder:
    """Pushes `store`'s outbox to the hub at `hub_url` until stopped."""

    def __init__(self, store: Store, hub_url: str, device_id: str, *,
                 session: requests.Session | None = None, batch_size: int = 100, timeout_s: float = 10.0,
                 interval_s: float = 10.0, frames: bool = False,
                 backoff: Backoff | None = None, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], datetime] = _utc_now) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be from 1 to {MAX_BATCH}; got {batch_size}")
        if timeout_s <= 0 or interval_s <= 0:
            raise ValueError(f"timeout_s and interval_s must be positive; got {timeout_s} and {interval_s}")
        self.store = store
        self.url = ingest_url(hub_url)
        self.device_id = device_id
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.interval_s = interval_s  # idle wait when the outbox is empty; `wake()` cuts it short
        self.frames = frames  # push full frames too (config), not only crops
        self.backoff = backoff or Backoff()
        # tls.py: TLS >= 1.2, this hub only; the bearer token rides in the session's headers (hub_session)
        self._session = session or hub_session(hub_url)
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s))  # injectable: tests record the delays
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last_success: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_delay_s = 0.0
        self.sent_total = 0
        self.acked_total = 0

    # -- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the hub forwarder is already running")
        self._thread = threading.Thread(target=self._loop, name="hub-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """End the thread after its current attempt (at most the HTTP timeout); True if it ended."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(self.timeout_s + 1 if timeout is None else timeout)
        return not self._thread.is_alive()

    def wake(self) -> None:
        """Send now instead of at the end of the idle wait (a new alert, say)."""
        self._wake.set()

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    result = self.run_once()
                except Exception as e:  # a store error must not end the thread: the backlog waits
                    log.exception("hub forwarder attempt failed")
                    result = Attempt(0, 0, f"{type(e).__name__}: {e}")
                if result.error is not None:
                    self.last_delay_s = self.backoff.failure()
                    self._sleep(self.last_delay_s)
                elif result.sent == 0:
                    self._wake.wait(self.interval_s)
                    self._wake.clear()
        finally:
            self.store.disconnect()  # this thread's connection

    # -- one attempt ---------------------------------------------------------------------

    def run_once(self) -> Attempt:
        """Send the next batch and apply the hub's ack; never raises for hub trouble, only for store trouble."""
        entries = self.store.outbox_pending(self.batch_size)
        if not entries:
            return Attempt(0, 0)
        items, live = [], []
        reads = self.store.get_reads([e.id for e in entries if e.kind == "read"])  # one query, not one a read
        for e in entries:
            item = render(self.store, e, frames=self.frames, reads=reads)
            if item is None:
                log.error("outbox %s %s (seq %d) has no record left in the store; dropped", e.kind, e.id, e.seq)
                self.store.outbox_drop([e.id])
                continue
            items.append(item)
            live.append(e)
        if not live:
            return Attempt(0, 0)
        body = {"device": self.device_id, "batch": uuid7(), "items": items}
        ack, error = self._post(body)
        by_id = {e.id: e for e in live}
        acked = [by_id[i] for i in dict.fromkeys(ack) if i in by_id]  # ids we did not send are ignored
        if acked:
            self.store.outbox_acknowledge(acked, self._clock())
        with self._lock:
            self.sent_total += len(live)
            self.acked_total += len(acked)
        if error is None and not acked:
            error = f"the hub acknowledged none of the {len(live)} records sent"
        acked_ids = {e.id for e in acked}
        missing = [e.id for e in live if e.id not in acked_ids]
        if error is not None:
            self._failed(error)
        else:
            self.backoff.reset()
            with self._lock:
                self.last_success = self._clock()
        if missing:
            self.store.outbox_failed(missing, error or "not acknowledged")
        log.debug("pushed %d records to the hub, %d acknowledged", len(live), len(acked))
        return Attempt(len(live), len(acked), error)

    # -- the same session and auth for the other hub calls (hotlist_sync.py, heartbeat.py) ----

    def send_items(self, items: list[dict]) -> tuple[list[str], str | None]:
        """Push `items` that are not in the outbox (heartbeats) as one batch: (acked ids, None) or ([], why)."""
        return self._post({"device": self.device_id, "batch": uuid7(), "items": items})

    def hub_request(self, method: str, path: str, *, headers: dict | None = None) -> requests.Response:
        """`method` {hub}{path} over the forwarder's session and auth; raises requests' errors."""
        return self._session.request(method, self.url[:-len(INGEST_PATH)] + path, timeout=self.timeout_s,
                                     headers=headers)

    def _post(self, body: dict) -> tuple[list[str], str | None]:
        """(acknowledged ids, None) or ([], why it failed); the why names no plate text."""
        try:
            r = self._session.post(self.url, json=body, timeout=self.timeout_s)
        except requests.Timeout:
            return [], f"the hub did not answer within {self.timeout_s:g} s"
        except requests.RequestException as e:
            return [], describe_failure(e)  # names the cause (expired certificate, wrong CA, ...)
        if not 200 <= r.status_code < 300:
            return [], describe_status(r.status_code)
        try:
            ack = r.json().get("ack")
        except (ValueError, AttributeError):
            return [], f"the hub answered HTTP {r.status_code} without a JSON object"
        if not isinstance(ack, list) or not all(isinstance(i, str) for i in ack):
            return [], "the hub's answer has no ack list of record ids"
        return ack, None

    def _failed(self, error: str) -> None:
        """Record and log a failed push: an error when only a person can fix it (tls.Cause), else a warning."""
        with self._lock:
            self.last_error, self.last_error_at = error, self._clock()
        fault = isinstance(error, Cause) and error.configuration  # a retry will not fix it
        level = logging.ERROR if fault else logging.WARNING
        log.log(level, "push to the hub failed (%s); the records stay in the outbox", error)

    # -- what the health page and the heartbeat show ----------------------------------------

    def stats(self) -> dict:
        """Backlog (count, oldest age, per kind) and the last success and error, as plain values."""
        backlog = backlog_stats(self.store, self._clock())
        with self._lock:
            return {**backlog,
                    "hub_last_success": None if self.last_success is None else to_rfc3339(self.last_success),
                    "hub_last_error": self.last_error,
                    "hub_last_error_at": None if self.last_error_at is None else to_rfc3339(self.last_error_at),
                    "hub_failures_in_a_row": self.backoff.failures, "hub_retry_in_s": round(self.last_delay_s, 1)
                    if self.backoff.failures else 0.0, "hub_sent": self.sent_total, "hub_acked": self.acked_total}

