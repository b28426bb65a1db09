"""smtplib's clients, pinned to the addresses the destination guard checked, and logging what
they see: the connection, the greeting, implicit TLS."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Sequence
from typing import Any

from core.network.connect import connect_first
from core.transport.base import Deadline
from core.transport.smtp.pipelining import FlightClient
from core.transport.smtp.session_log import SessionLog


class PinnedSMTP(FlightClient):
    """smtplib's client, connecting to addresses checked beforehand instead of looking the
    name up again; the name stays `host`, so STARTTLS verifies the certificate against it."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        *,
        local_hostname: str,
        timeout: float,
        deadline: Deadline,
        log: SessionLog,
    ) -> None:
        self.addresses = addresses
        self.deadline = deadline  # bounds the greeting already
        # The session's, not ours: it outlives a constructor that raises (a refused greeting).
        self.session_log = log
        super().__init__(host, port, local_hostname, timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        # Each write goes out at once, not held back for the last one's acknowledgement
        # (Nagle's algorithm): a pipelined group written in two parts (a message, then the
        # next one's envelope) must reach the server together, not a round trip apart.
        sock = connect_first(self.addresses, port, lambda: timeout, no_delay=True)
        self.session_log.connected(sock)
        return sock

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        code, reply = super().connect(host, port, source_address)
        self.session_log.greeted(code, reply)
        return code, reply


class PinnedSMTPSSL(smtplib.SMTP_SSL, PinnedSMTP):
    """Implicit TLS on a checked address: SMTP_SSL's `_get_socket` wraps the socket that
    `PinnedSMTP._get_socket` (next in the MRO) opens, verifying the certificate for `host`."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Sequence[str],
        *,
        local_hostname: str,
        timeout: float,
        deadline: Deadline,
        context: ssl.SSLContext,
        log: SessionLog,
    ) -> None:
        self.addresses = addresses
        self.deadline = deadline
        self.session_log = log
        smtplib.SMTP_SSL.__init__(
            self, host, port, local_hostname, timeout=timeout, context=context
        )

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)  # TCP, then the TLS handshake
        self.session_log.secured("implicit", sock)
        return sock
