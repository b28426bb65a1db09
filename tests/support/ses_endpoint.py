"""A stand-in for the SES v2 API on loopback, for what moto cannot make SES do: throttle,
refuse with each of SES's error codes, fail with a 5xx, go quiet or hang up after reading a
request.

It speaks SES v2's REST-JSON as botocore reads it: a `SendEmail` answered `{"MessageId": ...}`,
an error as its HTTP status with `x-amzn-ErrorType` and a JSON `message`. Point a client at it
with `endpoint_url`. Each request takes the next scripted answer (`answer(...)`), then the
default one: accepted. Every request is kept (`requests`), its JSON body parsed, so a test can
see what the transport asked for.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Accept:
    """A 200: to SendEmail, with a message id (a fresh one when none is given); to any other
    call, with `body`."""

    message_id: str | None = None
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Refuse:
    """An error answer, as SES gives it."""

    status: int
    code: str
    message: str = ""


@dataclass(frozen=True)
class Page:
    """An answer without AWS's error shape: a proxy's or another server's HTML page."""

    status: int
    html: str


@dataclass(frozen=True)
class Silence:
    """Read the request, then never answer (until the endpoint stops)."""


@dataclass(frozen=True)
class HangUp:
    """Read the request, then close the connection without a word."""


Answer = Accept | Refuse | Page | Silence | HangUp


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class SesEndpoint:
    """The fake SES v2 API on 127.0.0.1 (a port of the system's choosing), in a thread."""

    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.connections = 0
        self._script: deque[Answer] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        # Stopping waits for every connection's thread: none outlives the endpoint.
        self._server.daemon_threads = False
        self.port: int = self._server.server_address[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="ses-endpoint", daemon=True
        )

    def answer(self, *answers: Answer) -> Self:
        """The answers to the next requests, in order."""
        with self._lock:
            self._script.extend(answers)
        return self

    def sent(self) -> list[dict[str, Any]]:
        """The bodies of the SendEmail requests received."""
        return [r.body for r in self.requests if r.path == "/v2/email/outbound-emails"]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        # A client may hold its kept-alive connection (botocore closes it when its pool is
        # collected): end them from this side, so each connection's thread ends now.
        with self._lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(5)

    def _next(self, request: SeenRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            return self._script.popleft() if self._script else Accept()

    def _message_id(self) -> str:
        return f"0100018c-fake-{next(self._ids):06d}-000000"


def _handler_for(endpoint: SesEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1: the connection stays open between requests, as SES's does.
        protocol_version = "HTTP/1.1"
        # The answer's head and body go without waiting for an ACK in between.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with endpoint._lock:
                endpoint.connections += 1
                endpoint._open.add(self.connection)

        def finish(self) -> None:
            with endpoint._lock:
                endpoint._open.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests read `requests`

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            answer = endpoint._next(
                SeenRequest(self.command, self.path, dict(self.headers.items()), body)
            )
            if isinstance(answer, Silence):
                endpoint._stopping.wait(60)
                self.close_connection = True
                return
            if isinstance(answer, HangUp):
                self.close_connection = True
                return
            if isinstance(answer, Page):
                self._page(answer)
                return
            if isinstance(answer, Refuse):
                self._reply(
                    answer.status,
                    {"message": answer.message},
                    {"x-amzn-ErrorType": f"{answer.code}:http://internal.amazon.com/coral/"},
                )
                return
            self._reply(200, self._success(answer))

        def _success(self, answer: Accept) -> dict[str, Any]:
            if answer.body is not None:
                return answer.body
            if self.path == "/v2/email/outbound-emails":
                return {"MessageId": answer.message_id or endpoint._message_id()}
            return {}

        def _page(self, answer: Page) -> None:
            data = answer.html.encode()
            self.send_response(answer.status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _reply(
            self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", "fake-request-id")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
