"""Sends through the SES API transport, in round trips a message: this project's SES v2
`SendEmail` (the sealed message as raw content) to moto's SES on loopback, through the delay
proxy, over plain HTTP.

A kept transport holds one client, and botocore keeps its connection alive, so a warm message
should cost one request: one round trip. moto's own time answering is cancelled out: the same
sends run through an undelayed proxy too, and RTT a message = (wall(d) - wall(0)) / (2d) / n.
Real SES adds TLS to a cold connection (one more round trip with TLS 1.3, two with 1.2); plain
HTTP here measures the requests alone. The delay proxy accepts at once (TCP's handshake is not
delayed), so a connection per message would look as cheap as a kept one here: the row counts
the connections a warm run opened, and moto is served keeping them open (as SES does).
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from bench.delay_proxy import DelayProxy
from bench.product import RECIPIENTS, SENDER, Server, sealed_message, service_for
from core.transport.base import Deadline, Envelope, Outgoing
from core.transport.ses import SesTransport

REGION = "us-east-1"
DEADLINE_SECONDS = 30.0
# Fake credentials for moto, and nothing that could name real ones.
_FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
_REMOVED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class SesFigures:
    warm_rtt_per_message: float
    cold_rtt: float
    warm_samples: list[float]
    cold_samples: list[float]
    connections: int  # accepted by the delayed proxy over the warm runs


@contextmanager
def fake_aws() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in (*_FAKE_AWS, *_REMOVED)}
    for name in _REMOVED:
        os.environ.pop(name, None)
    os.environ.update(_FAKE_AWS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _KeepAliveWsgi(BaseHTTPRequestHandler):
    """moto's WSGI app served over HTTP/1.1 connections kept open, as SES keeps them.

    moto's own server is werkzeug's, which closes every connection after its answer (and, to
    drain what a request left unread, reads on until the client closes); so a client's kept
    connection would look new at every message. moto reads every body and answers with a
    length, so plain http.server, kept alive, serves it as SES's endpoint would."""

    protocol_version = "HTTP/1.1"
    # An answer is written as its head, then its body: without TCP_NODELAY the body would wait
    # for the head's ACK, which the client delays (40 ms on Linux) as SES's servers do not.
    disable_nagle_algorithm = True
    app: Any = None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path, _, query = self.path.partition("?")
        environ = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": self.headers.get("Host", ":80").rpartition(":")[2],
            "SERVER_PROTOCOL": self.request_version,
            "CONTENT_LENGTH": str(length),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in self.headers.items()},
        }
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            started[:] = [(status, list(headers))]
            return None

        data = b"".join(self.app(environ, start_response))
        status, headers = started[0]
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the table is what this prints


@contextmanager
def moto_ses() -> Iterator[tuple[str, int]]:
    """moto's SES on loopback, keeping connections alive, with the benchmark's sender
    verified."""

    class Handler(_KeepAliveWsgi):
        app = DomainDispatcherApplication(create_backend_app)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        host, port = "127.0.0.1", server.server_address[1]
        boto3.client(
            "sesv2", region_name=REGION, endpoint_url=f"http://{host}:{port}"
        ).create_email_identity(EmailIdentity=SENDER)
        yield host, port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def measure(delay: float, repeats: int, sends: int) -> SesFigures:
    """Median RTT a message for `sends` warm messages, and for a cold one (new transport)."""
    # The message the SMTP rows send (its service's port plays no part in it).
    outgoing = Outgoing(sealed_message(service_for(Server(25))).raw, Envelope(SENDER, RECIPIENTS))
    warm_direct, warm_delayed, cold_direct, cold_delayed = [], [], [], []
    connections = 0
    with (
        fake_aws(),
        moto_ses() as target,
        DelayProxy(target, delay=0) as direct,
        DelayProxy(target, delay=delay) as delayed,
    ):
        # Interleaved, so a slower moment of the machine falls on both alike.
        for _ in range(repeats):
            warm_direct.append(warm(direct, outgoing, sends))
            before = delayed.connections
            warm_delayed.append(warm(delayed, outgoing, sends))
            connections = delayed.connections - before
            cold_direct.append(cold(direct, outgoing))
            cold_delayed.append(cold(delayed, outgoing))
    rtt = 2 * delay
    warm_rtts = [(d - statistics.median(warm_direct)) / rtt for d in warm_delayed]
    cold_rtts = [(d - statistics.median(cold_direct)) / rtt for d in cold_delayed]
    return SesFigures(
        warm_rtt_per_message=statistics.median(warm_rtts),
        cold_rtt=statistics.median(cold_rtts),
        warm_samples=warm_delayed,
        cold_samples=cold_delayed,
        connections=connections,
    )


def warm(proxy: DelayProxy, outgoing: Outgoing, sends: int) -> float:
    """Seconds a message for `sends` messages on a transport that has sent one already."""
    with SesTransport(REGION, endpoint_url=f"http://127.0.0.1:{proxy.port}") as ses:
        ses.open(Deadline.after(DEADLINE_SECONDS))
        ses.send(outgoing.message, outgoing.envelope, Deadline.after(DEADLINE_SECONDS))
        started = time.perf_counter()
        for _ in range(sends):
            ses.send(outgoing.message, outgoing.envelope, Deadline.after(DEADLINE_SECONDS))
        return (time.perf_counter() - started) / sends


def cold(proxy: DelayProxy, outgoing: Outgoing) -> float:
    """Seconds for a new transport's first message (its connection made on the way)."""
    started = time.perf_counter()
    with SesTransport(REGION, endpoint_url=f"http://127.0.0.1:{proxy.port}") as ses:
        ses.open(Deadline.after(DEADLINE_SECONDS))
        ses.send(outgoing.message, outgoing.envelope, Deadline.after(DEADLINE_SECONDS))
    return time.perf_counter() - started
