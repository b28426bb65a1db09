"""The pieces of an SMTP transaction that saves round trips, on smtplib's primitives.

PIPELINING (RFC 2920) lets a client write MAIL FROM, every RCPT TO and DATA (or BDAT) in one
go and read the replies afterwards, in order; CHUNKING (RFC 3030) sends the message as
`BDAT <size> LAST` and its bytes as they are, with no 354 to wait for and no dot-stuffing.
What each reply means, and what a failure means at each point, is the session's business
(`core.transport.smtp.session`); this module writes the commands and keeps the per-recipient tally.
"""

from __future__ import annotations

import select
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.transport.base import Envelope
from core.transport.smtp.replies import BoundedReplies

if TYPE_CHECKING:
    from collections.abc import Buffer  # Python 3.12+; an annotation only


class FlightClient(BoundedReplies):
    """smtplib's client (reading replies within bounds), able to hold what it writes and hand
    it to the kernel in one write.

    Inside `flight()` every command (`putcmd`, `send`) is kept back; leaving the block writes
    them all with one `sendall`, so a server sees the whole group before answering any of it.
    A block left by an exception writes nothing.
    """

    _held: list[bytes] | None = None

    def send(self, s: Buffer | str) -> None:
        if self._held is None:
            super().send(s)
        else:
            self._held.append(s.encode(self.command_encoding) if isinstance(s, str) else bytes(s))

    @contextmanager
    def flight(self) -> Iterator[None]:
        self._held = []
        try:
            yield
            group = b"".join(self._held)
        finally:
            self._held = None
        self.send(group)


def write_envelope(client: smtplib.SMTP, envelope: Envelope, options: Sequence[str]) -> None:
    """MAIL FROM (with `options`) and a RCPT TO per recipient, as smtplib's `mail()` and
    `rcpt()` write them, without waiting for their replies."""
    extra = " " + " ".join(options) if options and client.does_esmtp else ""
    client.putcmd("mail", f"FROM:{smtplib.quoteaddr(envelope.sender)}{extra}")
    for recipient in envelope.recipients:
        client.putcmd("rcpt", f"TO:{smtplib.quoteaddr(recipient)}")


def bdat_last(message: bytes) -> bytes:
    """The message as its one and last chunk: the command, then its bytes exactly as built."""
    return b"BDAT %d LAST\r\n" % len(message) + message


def nothing_unread(client: smtplib.SMTP) -> bool:
    """Whether the server has said nothing we have not read: no reply (a 421 to an idle
    connection, or one that came along with the last reply), no close. Checked without
    waiting, and without taking anything a later `getreply` should see."""
    sock = client.sock
    if sock is None:
        return False
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    if select.select([sock], [], [], 0)[0]:
        return False
    if client.file is None:
        return True
    # Bytes smtplib read from the kernel with an earlier reply and has not looked at yet: with
    # nothing in the kernel (above), a peek without blocking sees only those.
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return not client.file.peek(1)
    except OSError:  # would block (a TLS socket says so by raising)
        return True
    finally:
        sock.settimeout(timeout)


@dataclass
class RecipientReplies:
    """Each recipient's RCPT reply: accepted (2xx), refused for good (5xx), or deferred (4xx).
    A 421, a reply that is no SMTP reply, or one of a class RCPT cannot have (a 354) ends the
    session instead: the caller never records one."""

    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)

    def record(self, recipient: str, code: int, reply: str) -> None:
        if 200 <= code <= 299:
            self.accepted.append(recipient)
        elif 400 <= code <= 499:
            self.deferred[recipient] = reply
        else:
            self.refused[recipient] = reply
