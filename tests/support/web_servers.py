"""A web server on loopback for the attachment fetcher's tests (and the OAuth2 token endpoint's,
`tests.support.token_server`): HTTP or HTTPS (with a test `Authority`'s certificate), answering
each path from a table of routes (GET or POST alike), recording what arrived.

Routes are small functions of the request handler (`serve_file`, `answer`, `redirect`, and the
misbehaving ones: `endless`, `declare_length`, `stall`, `drip`). A route that waits does so on
the server's `release` event, which stopping the server sets, so no thread outlives a test.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from tests.support.smtp_servers import LOOPBACK, Authority

Route = Callable[["_Handler"], None]

_CHUNK = 64 * 1024
_MAX_POST_BYTES = 1024 * 1024


@dataclass
class Arrival:
    """One request: its target (path and query), its headers, and a POST's method and body."""

    target: str
    headers: dict[str, str]
    method: str = "GET"
    body: bytes = b""


@dataclass
class Stream:
    """What an endless route managed to hand to its socket before the client hung up."""

    written: int = 0
    offered: int = 0
    stopped: threading.Event = field(default_factory=threading.Event)


class WebServer:
    """HTTP(S) on 127.0.0.1, a port the system picks; `routes` maps a path to its answer."""

    def __init__(self, *, authority: Authority | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.arrivals: list[Arrival] = []
        self.release = threading.Event()
        self._tls = authority.server_context() if authority is not None else None
        self._server = _Server((LOOPBACK, 0), _Handler, self)
        self.port: int = self._server.server_address[1]
        self.scheme = "https" if authority is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="web-server"
        )

    def url(self, target: str, *, host: str = LOOPBACK) -> str:
        return f"{self.scheme}://{host}:{self.port}{target}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()

    def wrap(self, connection: socket.socket) -> socket.socket:
        connection.settimeout(10)  # a test's client that vanishes cannot hold a thread longer
        if self._tls is None:
            return connection
        # The handshake happens on the first read, in the request's own thread.
        return self._tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so that server_close() waits for every request's thread

    def __init__(self, address: tuple[str, int], handler: type[_Handler], web: WebServer) -> None:
        self.web = web
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        connection, address = self.socket.accept()
        return self.web.wrap(connection), address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hang up on purpose here (too large, too slow, a bad certificate)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    body = b""  # a POST's, read before its route answers

    def do_GET(self) -> None:
        self._route(Arrival(self.path, dict(self.headers.items())))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(min(length, _MAX_POST_BYTES))
        self._route(Arrival(self.path, dict(self.headers.items()), "POST", self.body))

    def _route(self, arrival: Arrival) -> None:
        web = self.server.web
        path = self.path.partition("?")[0]
        web.arrivals.append(arrival)
        route = web.routes.get(path)
        if route is None:
            answer(404, b"no such file")(self)
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


# What a route is handed: the request, its `body` (a POST's), and the means to answer.
RequestHandler = _Handler


# --- routes ---------------------------------------------------------------------------------------


def serve_file(content: bytes, content_type: str | None = None, **headers: str) -> Route:
    def route(handler: _Handler) -> None:
        handler.send_response(200)
        if content_type is not None:
            handler.send_header("Content-Type", content_type)
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return route


def answer(status: int, body: bytes) -> Route:
    def route(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(handler: _Handler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def endless(stream: Stream, *, offer: int) -> Route:
    """A body of `offer` bytes with no declared length, written until the client hangs up."""

    def route(handler: _Handler) -> None:
        stream.offered = offer
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: the body ends when the connection does
        chunk = b"x" * _CHUNK
        try:
            while stream.written < offer:
                handler.wfile.write(chunk)
                stream.written += len(chunk)
        except OSError:
            pass
        finally:
            stream.stopped.set()

    return route


def declare_length(length: int) -> Route:
    """Headers declaring `length` bytes, then nothing until the server stops."""

    def route(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.flush()
        handler.server.web.release.wait()

    return route


def stall(handler: _Handler) -> None:
    """The request is read, and no answer comes until the server stops."""
    handler.server.web.release.wait()


def drip(every: float) -> Route:
    """A 200 whose body comes a byte at a time, `every` seconds apart, never ending."""

    def route(handler: _Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "1000000")
        handler.end_headers()
        handler.wfile.flush()
        with contextlib.suppress(OSError):
            while not handler.server.web.release.wait(every):
                handler.wfile.write(b"x")
                handler.wfile.flush()

    return route


def not_http(handler: _Handler) -> None:
    """A reply in no protocol at all (an internal service's banner)."""
    handler.wfile.write(b"SSH-2.0-OpenSSH_9.6 internal-banner-secret\r\n")


__all__ = [
    "Arrival",
    "RequestHandler",
    "Route",
    "Stream",
    "WebServer",
    "answer",
    "declare_length",
    "drip",
    "endless",
    "not_http",
    "redirect",
    "serve_file",
    "stall",
]
