"""The benchmark's delay proxy (`bench/delay_proxy.py`): each direction is late by at least d,
and the bytes come out as they went in, in order, the end of the stream too. Correctness
only: how close to d it stays is the benchmark's business, not a test's."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from bench.delay_proxy import DelayProxy

DELAY = 0.05


class EchoServer:
    """Echoes every byte back; notes when the first one arrived and everything it got."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.received = bytearray()
        self.first_arrival: float | None = None
        self.ended = threading.Event()  # the client's end of stream came through
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection:
            while chunk := connection.recv(65536):
                if self.first_arrival is None:
                    self.first_arrival = time.monotonic()
                self.received += chunk
                connection.sendall(chunk)
            self.ended.set()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_each_direction_is_delayed_by_at_least_d(echo: EchoServer) -> None:
    with (
        DelayProxy(("127.0.0.1", echo.port), delay=DELAY) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as client,
    ):
        sent = time.monotonic()
        client.sendall(b"EHLO bench\r\n")
        answer = _read(client, 12)
        back = time.monotonic()

    assert answer == b"EHLO bench\r\n"
    assert echo.first_arrival is not None
    assert echo.first_arrival - sent >= DELAY  # there
    assert back - echo.first_arrival >= DELAY  # and back
    assert proxy.rtt == 2 * DELAY


def test_bytes_keep_their_order_both_ways_and_the_end_of_stream_passes(
    echo: EchoServer,
) -> None:
    # Many small writes and a few large ones: chunks the proxy reads apart must not overtake.
    pieces = [f"{n:06d}|".encode() * (1 + n % 7) for n in range(2000)]
    pieces += [bytes([n]) * 200_000 for n in range(3)]
    expected = b"".join(pieces)
    with DelayProxy(("127.0.0.1", echo.port), delay=0.005) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as client:
            reader = threading.Thread(target=lambda: echoed.append(_read(client, len(expected))))
            echoed: list[bytes] = []
            reader.start()
            for piece in pieces:
                client.sendall(piece)
            client.shutdown(socket.SHUT_WR)
            reader.join(30)
            assert echo.ended.wait(10)  # the end of stream reached the server
            tail = client.recv(1)  # and the server's came back
        assert proxy.connections == 1

    assert bytes(echo.received) == expected
    assert echoed == [expected]
    assert tail == b""
