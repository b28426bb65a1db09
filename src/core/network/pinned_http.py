"""http.client connections to addresses the destination guard checked (not looked up again),
every wait bounded by one deadline: what the outbound HTTP requests (attachment URLs, OAuth2
token endpoints) are made on."""

from __future__ import annotations

import http.client
import io
import socket
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.network.connect import connect_first
from core.transport.base import Deadline

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class PinnedConnection(http.client.HTTPConnection):
    """http.client's connection, made to addresses the guard checked instead of looking the
    name up again; the name stays for the Host header. Every wait ends by `deadline`."""

    def __init__(self, host: str, port: int, addresses: Sequence[str], deadline: Deadline) -> None:
        super().__init__(host, port)
        self._addresses = addresses
        self._deadline = deadline
        self.response_class = bounded_response(deadline)

    def connect(self) -> None:
        sock = connect_first(self._addresses, self.port, lambda: remaining_of(self._deadline))
        try:
            self.sock = self._secure(sock)
        except BaseException:
            sock.close()
            raise
        self.sock.settimeout(remaining_of(self._deadline))

    def _secure(self, sock: socket.socket) -> socket.socket:
        return sock


class PinnedTlsConnection(PinnedConnection):
    """The same over TLS: the certificate is verified for the host name, sent as the SNI."""

    default_port = 443

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        deadline: Deadline,
        tls: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, addresses, deadline)
        self._tls = tls

    def _secure(self, sock: socket.socket) -> socket.socket:
        # The handshake as a whole is bounded by the socket's timeout (one deadline in _ssl).
        sock.settimeout(remaining_of(self._deadline))
        return self._tls.wrap_socket(sock, server_hostname=self.host)


def bounded_response(deadline: Deadline) -> type[http.client.HTTPResponse]:
    """http.client's response, reading through `DeadlineReader`."""

    class BoundedResponse(http.client.HTTPResponse):
        def __init__(
            self,
            sock: socket.socket,
            debuglevel: int = 0,
            method: str | None = None,
            url: str | None = None,
        ) -> None:
            super().__init__(sock, debuglevel, method, url)
            unbounded = self.fp
            self.fp = io.BufferedReader(DeadlineReader(sock, deadline))
            unbounded.close()  # after the reader took its own reference to the socket

    return BoundedResponse


class DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read given only what is left of the deadline: the status line,
    the headers and the body together end by it, however slowly the server drips them."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        super().__init__()
        self._sock = sock
        # Its own file object keeps the socket open after http.client's connection lets go
        # of it, as the response's file object does (an answer with `Connection: close`).
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._sock.settimeout(remaining_of(self._deadline))
        return self._raw.readinto(buffer) or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def remaining_of(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    if remaining <= 0:
        raise TimeoutError("the time for the request ran out")
    return remaining
