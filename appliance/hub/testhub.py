"""A small real hub that records pushes: for the tests, the demo and the hub benchmark.

It speaks push v1 (forwarder.py) over real HTTP on 127.0.0.1 (a free port unless given)
and keeps, like a real hub, each record once by its id: a record sent again is counted
in `duplicates` and acknowledged again, not stored twice. It can be driven into the
faults the forwarder must survive: answer an error status N times (`fail`), drop the
connection without an answer N times (`reset`), answer only after a delay (`slow`:
it stores first, as a hub that is merely slow would), acknowledge only the first K
records of each batch (`ack_only`: it stores only what it acknowledges), or be down
altogether (`down` / `up`, on the same port). `gaps(kind)` lists missing sequence numbers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024 * 1024


class RecordingHub:
    """`with RecordingHub() as hub: ... hub.url ...`; `records` maps id -> item, in arrival order."""

    def __init__(self, *, token: str | None = None, port: int = 0, host: str = "127.0.0.1") -> None:
        self.token = token  # when set, pushes must carry `Authorization: Bearer <token>`
        self.host, self.port = host, port
        self.records: dict[str, dict] = {}
        self.arrivals: Counter[str] = Counter()  # every time an id came in, stored or not
        self.duplicates = 0
        self.batches: list[str] = []  # batch ids of the pushes answered 2xx
        self.devices: set[str] = set()
        self.requests = 0
        self._fail: list[int] = []  # statuses still to answer
        self._resets = 0
        self._delay_s = 0.0
        self._ack_limit: int | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> RecordingHub:
        self.up()
        return self

    def up(self) -> None:
        """Listen (again, on the same port after `down`)."""
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"test-hub-{self.port}",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused until `up`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    stop = down

    def __enter__(self) -> RecordingHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- faults --------------------------------------------------------------------------

    def fail(self, times: int, status: int = 500) -> None:
        """Answer the next `times` pushes with `status`, storing nothing."""
        with self._lock:
            self._fail.extend([status] * times)

    def reset(self, times: int) -> None:
        """Close the next `times` connections after reading the request, without an answer or storing."""
        with self._lock:
            self._resets += times

    def slow(self, seconds: float) -> None:
        """Store each push, then wait `seconds` before answering (0: answer at once)."""
        self._delay_s = seconds

    def ack_only(self, count: int | None) -> None:
        """Store and acknowledge only the first `count` records of each push (None: all)."""
        self._ack_limit = count

    # -- what it holds -------------------------------------------------------------------

    def of_kind(self, kind: str) -> list[dict]:
        with self._lock:
            return [r for r in self.records.values() if r["kind"] == kind]

    def seqs(self, kind: str) -> list[int]:
        return sorted(r["seq"] for r in self.of_kind(kind))

    def gaps(self, kind: str) -> list[int]:
        """Sequence numbers of `kind` missing between 1 and the highest received."""
        have = set(self.seqs(kind))
        return [s for s in range(1, max(have, default=0) + 1) if s not in have]

    # -- the protocol --------------------------------------------------------------------

    def _ingest(self, body: dict) -> tuple[int, dict]:
        problem = _check_push(body)
        if problem:
            return 400, {"error": problem}
        with self._lock:
            if self._fail:
                return self._fail.pop(0), {"error": "failing on purpose (test hub)"}
            items = body["items"]
            take = items if self._ack_limit is None else items[:self._ack_limit]
            for item in items:
                self.arrivals[item["id"]] += 1
            for item in take:
                if item["id"] in self.records:
                    self.duplicates += 1
                else:
                    self.records[item["id"]] = item
            self.devices.add(body["device"])
            self.batches.append(body["batch"])
        return 200, {"ack": [i["id"] for i in take]}


def _check_push(body: object) -> str | None:
    """What is wrong with a push body, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return "the body must be a JSON object with device, batch and an items list"
    if not isinstance(body.get("device"), str) or not isinstance(body.get("batch"), str):
        return "device and batch must be strings"
    for n, item in enumerate(body["items"]):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("seq"), int) \
                or item.get("kind") not in ("read", "alert", "access", "purge", "heartbeat"):
            return f"item {n} needs kind (read, alert, access, purge, heartbeat), id (string) and seq (integer)"
    return None


def _handler(hub: RecordingHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("test hub: " + fmt, *args)

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            with hub._lock:
                hub.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(411 if length == 0 else 413, {"error": "a push needs a body of at most 256 MiB"})
                return
            raw = self.rfile.read(length)
            if self.path != "/api/v1/ingest":
                self._answer(404, {"error": f"no such endpoint {self.path}"})
                return
            if hub.token is not None and self.headers.get("Authorization") != f"Bearer {hub.token}":
                self._answer(401, {"error": "a valid bearer token is required"})
                return
            with hub._lock:
                reset = hub._resets > 0
                hub._resets -= reset
            if reset:
                self.close_connection = True
                self.connection.close()  # no answer at all: the client sees the connection drop
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._answer(400, {"error": "the body is not JSON"})
                return
            status, payload = hub._ingest(body)
            if hub._delay_s:
                time.sleep(hub._delay_s)
            try:
                self._answer(status, payload)
            except OSError:  # the client gave up waiting (its timeout): what was stored stays stored
                pass

    return Handler


def wait_until(predicate: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout_s` passes; its last answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return predicate()
