"""What an SMTP session learnt on the way.

Every session keeps a `SessionLog` (the address, the greeting, each EHLO reply, the TLS it set
up, the stages it passed and when). A send ignores it; `probe` (the API's "test connection")
runs the same steps, guard, TLS context and error classification as a send, stops before MAIL
FROM, and hands the log back with the failure a send would have met.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field

from core.errors import DeliveryFailure
from core.transport.smtp.replies import is_reply_code, reply_text
from core.transport.smtp.stages import Stage


@dataclass(frozen=True)
class Hello:
    """The server's answer to our EHLO (or HELO, for a server that knows no EHLO)."""

    command: str  # "EHLO" or "HELO"
    reply: str  # its lines' text, joined by newlines, without the codes
    features: dict[str, str]  # smtplib's `esmtp_features`: lower-case keyword -> parameters
    tls: bool  # whether it came over TLS


@dataclass(frozen=True)
class TlsFacts:
    """The TLS a session set up: `implicit` ('ssl') or by `starttls`."""

    mode: str
    version: str | None
    cipher: str | None
    certificate: bytes | None  # DER, as the server presented it (checked or not: see `tls`)


@dataclass
class SessionLog:
    """What a session learnt, stage by stage; recording it changes nothing in how a send goes.

    `marks` are the stages passed (`connect`, `tls` for implicit TLS, `greeting`, `ehlo`,
    `starttls`, `ehlo` again, `auth`), each with the `time.monotonic()` it ended at. A reply
    that is no SMTP reply is never kept (see `classification.not_smtp`).
    """

    started: float = field(default_factory=time.monotonic)
    marks: list[tuple[str, float]] = field(default_factory=list)
    address: str | None = None  # the checked address the TCP connection went to
    greeting: str | None = None
    hellos: list[Hello] = field(default_factory=list)
    tls: TlsFacts | None = None
    # Set by `probe`: when the session stopped, what stopped it, and the certificate that
    # failed verification as a second connection, checking nothing, saw it.
    ended: float | None = None
    failure: DeliveryFailure | None = None  # an SMTP failure, or OAuth2's token step's
    unverified: TlsFacts | None = None

    def mark(self, stage: str) -> None:
        self.marks.append((stage, time.monotonic()))

    def connected(self, sock: socket.socket) -> None:
        self.address = str(sock.getpeername()[0])
        self.mark("connect")

    def greeted(self, code: int, reply: bytes) -> None:
        if is_reply_code(code):
            self.greeting = reply_text(code, reply)
        if code == 220:
            self.mark(Stage.GREETING)

    def secured(self, mode: str, sock: socket.socket | None) -> None:
        if not isinstance(sock, ssl.SSLSocket):
            return
        cipher = sock.cipher()
        self.tls = TlsFacts(
            mode=mode,
            version=sock.version(),
            cipher=cipher[0] if cipher else None,
            certificate=sock.getpeercert(binary_form=True),
        )
        self.mark("tls" if mode == "implicit" else Stage.STARTTLS)

    def hello(self, client: smtplib.SMTP) -> None:
        reply = client.ehlo_resp if client.does_esmtp else client.helo_resp
        self.hellos.append(
            Hello(
                command="EHLO" if client.does_esmtp else "HELO",
                reply=(reply or b"").decode("utf-8", "replace"),
                features=dict(client.esmtp_features),
                tls=isinstance(client.sock, ssl.SSLSocket),
            )
        )
        self.mark(Stage.EHLO)
