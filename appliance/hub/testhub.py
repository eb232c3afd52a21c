"""A small real hub that records pushes: for the tests, the demo and the hub benchmark.

It speaks push v1 (forwarder.py) over real HTTP on 127.0.0.1 (a free port unless given)
and keeps, like a real hub, each record once by its id: a record sent again is counted
in `duplicates` and acknowledged again, not stored twice. It can be driven into the
faults the forwarder must survive: answer an error status N times (`fail`), drop the
connection without an answer N times (`reset`), answer only after a delay (`slow`:
it stores first, as a hub that is merely slow would), acknowledge only the first K
records of each batch (`ack_only`: it stores only what it acknowledges), or be down
altogether (`down` / `up`, on the same port). `gaps(kind)` lists missing sequence numbers.

Over HTTPS (`tls=(cert, key)`), it can ask for client certificates signed by `client_ca`
(`require_client_cert`: refuse a connection without one) and serve `GET /api/v1/device-secret`
(DS-5) to the enrolled devices only: `device_secrets` maps a certificate's common name
to its secret; that route needs a verified client certificate, never a token.

With `enrolment_ca` set (appliance/hub/enrolment_ca.py) it speaks EST: `cacerts`,
`simpleenroll` for a one-time token and `simplereenroll` for the current certificate.

It serves `GET /api/v1/hotlists` (`serve_hotlists(body, etag)`: 304 while If-None-Match
matches; `fail_hotlists` for error answers) and records heartbeats like any pushed item.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from appliance.hub.enrolment_ca import EnrolmentCA
from appliance.hub.est import CACERTS, SIMPLEENROLL, SIMPLEREENROLL

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024 * 1024


class RecordingHub:
    """`with RecordingHub() as hub: ... hub.url ...`; `records` maps id -> item, in arrival order."""

    def __init__(self, *, token: str | None = None, port: int = 0, host: str = "127.0.0.1",
                 tls: tuple[Path | str, Path | str] | None = None, client_ca: Path | str | None = None,
                 require_client_cert: bool = False, device_secrets: dict[str, bytes] | None = None) -> None:
        self.token = token  # when set, pushes must carry `Authorization: Bearer <token>`
        self.tls, self.client_ca, self.require_client_cert = tls, client_ca, require_client_cert
        self.device_secrets = dict(device_secrets or {})  # enrolled certificate CN -> its secret
        self.secret_requests: list[str | None] = []  # the CN that asked (None: no certificate)
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
        self._hotlists: tuple[bytes, str | None] | None = None  # body, ETag of GET /api/v1/hotlists
        self._hotlist_fail: list[int] = []
        self.hotlist_requests: list[str | None] = []  # the If-None-Match of each hotlists request
        self.enrolment_ca: EnrolmentCA | None = None  # set to serve EST enrolment (/.well-known/est/...)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()  # connections being served (closed by `down`)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*map(str, self.tls))  # type: ignore[misc]
        if self.client_ca:
            ctx.load_verify_locations(str(self.client_ca))
            ctx.verify_mode = ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_OPTIONAL
        return ctx

    def start(self) -> RecordingHub:
        self.up()
        return self

    def up(self) -> None:
        """Listen (again, on the same port after `down`)."""
        if self._server is not None:
            return
        self._server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        if self.tls:  # a failed handshake is an OSError in accept: that connection only is dropped
            self._server.socket = self._context().wrap_socket(self._server.socket, server_side=True)
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
        with self._lock:  # kept-alive connections die with the hub, as across a real outage
            for conn in self._open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

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

    def serve_hotlists(self, body: dict | bytes, etag: str | None = "auto") -> str | None:
        """Answer GET /api/v1/hotlists with `body` (a dict as JSON; bytes as they are, garbage included)
        and `etag` ("auto": a hash of the body; None: no ETag). Returns the ETag."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if etag == "auto":
            etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        with self._lock:
            self._hotlists = (data, etag)
        return etag

    def fail_hotlists(self, times: int, status: int = 500) -> None:
        """Answer the next `times` hotlists requests with `status`."""
        with self._lock:
            self._hotlist_fail.extend([status] * times)

    def _hotlists_answer(self, if_none_match: str | None) -> tuple[int, bytes, str | None]:
        with self._lock:
            self.requests += 1
            self.hotlist_requests.append(if_none_match)
            if self._hotlist_fail:
                return self._hotlist_fail.pop(0), b'{"error": "failing on purpose (test hub)"}', None
            if self._hotlists is None:
                return 404, b'{"error": "this test hub serves no hotlists (serve_hotlists)"}', None
            data, etag = self._hotlists
        if etag is not None and if_none_match == etag:
            return 304, b"", etag
        return 200, data, etag

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

        def setup(self) -> None:
            super().setup()
            with hub._lock:
                hub._open.add(self.connection)

        def finish(self) -> None:
            with hub._lock:
                hub._open.discard(self.connection)
            super().finish()

        def log_message(self, fmt: str, *args: object) -> None:
            log.debug("test hub: " + fmt, *args)

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == CACERTS and hub.enrolment_ca is not None:
                self._send(*hub.enrolment_ca.cacerts())
                return
            if self.path == "/api/v1/device-secret":
                self._device_secret()
                return
            if self.path == "/api/v1/hotlists":
                self._hotlists()
                return
            self._answer(404, {"error": f"no such endpoint {self.path}"})

        def _hotlists(self) -> None:
            if hub.token is not None and self.headers.get("Authorization") != f"Bearer {hub.token}":
                self._answer(401, {"error": "a valid bearer token is required"})
                return
            status, data, etag = hub._hotlists_answer(self.headers.get("If-None-Match"))
            self.send_response(status)
            if etag is not None:
                self.send_header("ETag", etag)
            if status != 304:
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if status != 304:
                self.wfile.write(data)

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _enrol(self, raw: bytes) -> None:
            """EST enrolment (one-time token) and renewal (the current certificate, mutual TLS)."""
            ca = hub.enrolment_ca
            assert ca is not None
            if self.path == SIMPLEENROLL:
                self._send(*ca.simpleenroll(raw, self.headers.get("Authorization")))
                return
            peer = self.connection.getpeercert(binary_form=True) if isinstance(self.connection, ssl.SSLSocket) else None
            self._send(*ca.simplereenroll(raw, peer))

        def _device_secret(self) -> None:
            """DS-5: the secret of the enrolled device whose verified certificate this connection carries."""
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            cn = next((v for rdn in (peer or {}).get("subject", ()) for k, v in rdn if k == "commonName"), None)
            with hub._lock:
                hub.requests += 1
                hub.secret_requests.append(cn)
            if cn is None:
                self._answer(401, {"error": "the device secret is handed out over mutual TLS only"})
            elif cn not in hub.device_secrets:
                self._answer(403, {"error": f"device {cn} is not enrolled"})
            else:
                self._answer(200, {"secret": base64.b64encode(hub.device_secrets[cn]).decode("ascii")})

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            with hub._lock:
                hub.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                self._answer(411 if length == 0 else 413, {"error": "a push needs a body of at most 256 MiB"})
                return
            raw = self.rfile.read(length)
            if self.path in (SIMPLEENROLL, SIMPLEREENROLL) and hub.enrolment_ca is not None:
                self._enrol(raw)
                return
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
