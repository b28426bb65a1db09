"""An in-memory transport for unit tests, after django-anymail's test backend.

`Outbox` is a `TransportFactory`: `outbox(service)` gives a transport whose sends land in
`outbox.messages` instead of on a socket. Every message handed over is kept in
`outbox.handed`, taken or not, so a test can compare what each attempt carried. Prime
`fail_next(...)` to make the next sends raise one error each (as a real transport would,
with an `SmtpFailure`), `failure` to make every send raise, `refuse` to have recipients
refused for good (5xx at RCPT) and `defer` to have them deferred (4xx at RCPT, say 452),
while the rest are accepted. `opened` and `closed` count connections; each message records
the connection it went on (`connection`: 1 for the first one opened), so a test can tell
which messages shared one.
"""

from __future__ import annotations

import email
import email.policy
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from email.message import EmailMessage

from core.ports import Transport, TransportFactory
from core.services.model import Service
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.smtp.errors import SmtpDeferred, SmtpFailure, SmtpRejected
from core.transport.smtp.kind import smtp_identity

REPLY = "250 2.0.0 Ok: queued as OUTBOX"
# The id REPLY names, as a server's `queued as <id>` does: what `Delivery` says of a sent one.
PROVIDER_MESSAGE_ID = "OUTBOX"


@dataclass(frozen=True)
class SentMessage:
    """One message handed to a transport: through which service, the envelope, the bytes."""

    service: Service
    envelope: Envelope
    raw: bytes
    deadline: Deadline
    connection: int = 0  # which connection, numbered as opened from 1 (0: none)
    then: Outgoing | None = None  # the message announced as the next one, if any

    def parsed(self) -> EmailMessage:
        # As a mailbox stores it: with local line endings, so decoded text has no stray CRs.
        local = self.raw.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(local, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def header(self, name: str) -> str:
        """A header exactly as it went out (unfolded), or a KeyError if it is absent."""
        value = self.parsed()[name]
        if value is None:
            raise KeyError(name)
        return str(value)


@dataclass
class Outbox:
    # What the server took, in order.
    messages: list[SentMessage] = field(default_factory=list)
    # Everything `send` was given, taken or refused: one entry per attempt.
    handed: list[SentMessage] = field(default_factory=list)
    # Every service a transport was built for, sent on or not.
    services: list[Service] = field(default_factory=list)
    # Raised by every send, once `pending_failures` are used up.
    failure: SmtpFailure | None = None
    pending_failures: deque[SmtpFailure] = field(default_factory=deque)
    # Raised by the next opens, one each (connecting failed: nothing is opened).
    pending_open_failures: deque[SmtpFailure] = field(default_factory=deque)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> the server's 5xx
    defer: dict[str, str] = field(default_factory=dict)  # recipient -> the server's 4xx
    opened: int = 0
    closed: int = 0

    def identity(self, service: Service) -> Hashable:
        """As the real factory has it for an SMTP service."""
        return smtp_identity(service)

    def __call__(self, service: Service) -> OutboxTransport:
        self.services.append(service)
        return OutboxTransport(self, service)

    def fail_next(self, *failures: SmtpFailure) -> None:
        """The next sends raise these, one each, in order (the message still counts as
        handed over, as a real server may have read it before failing)."""
        self.pending_failures.extend(failures)

    def fail_next_open(self, *failures: SmtpFailure) -> None:
        """The next connections fail to open with these, one each, in order."""
        self.pending_open_failures.extend(failures)

    @property
    def open_connections(self) -> int:
        """Connections opened and not yet closed."""
        return self.opened - self.closed

    def connections(self) -> list[int]:
        """The connection each message the server took went on, in order."""
        return [sent.connection for sent in self.messages]

    @property
    def only_message(self) -> SentMessage:
        assert len(self.messages) == 1, f"expected one message, got {len(self.messages)}"
        return self.messages[0]

    def recipients(self) -> list[list[str]]:
        """The envelope recipients of every attempt, in order."""
        return [sent.envelope.recipients for sent in self.handed]

    def _next_failure(self) -> SmtpFailure | None:
        if self.pending_failures:
            return self.pending_failures.popleft()
        return self.failure


class OutboxTransport(Transport):
    """One 'connection' to the outbox: opened by `open` or the first `send`, closed by
    `close`, by the end of a `with` block, or by a failed send (as `SmtpTransport` does)."""

    def __init__(self, outbox: Outbox, service: Service) -> None:
        self._outbox = outbox
        self._service = service
        self._open = False
        self._following: Outgoing | None = None
        self.number = 0  # set when opened: the outbox's count of connections so far

    def open(self, deadline: Deadline) -> None:
        if not self._open:
            if self._outbox.pending_open_failures:
                raise self._outbox.pending_open_failures.popleft()
            self._open = True
            self._outbox.opened += 1
            self.number = self._outbox.opened

    def close(self) -> None:
        if self._open:
            self._open = False
            self._outbox.closed += 1

    def announce(self, following: Outgoing) -> None:
        """`AnnouncesNext`, as SMTP has it: kept for the next send only (`SentMessage.then`)."""
        self._following = following

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        then, self._following = self._following, None
        self.open(deadline)
        sent = SentMessage(self._service, envelope, message, deadline, self.number, then)
        self._outbox.handed.append(sent)
        try:
            return self._deliver(sent)
        except BaseException:
            self.close()
            raise

    def _deliver(self, sent: SentMessage) -> Delivery:
        failure = self._outbox._next_failure()
        if failure is not None:
            raise failure
        recipients = sent.envelope.recipients
        refused = {rcpt: reply for rcpt, reply in self._outbox.refuse.items() if rcpt in recipients}
        deferred = {
            rcpt: reply
            for rcpt, reply in self._outbox.defer.items()
            if rcpt in recipients and rcpt not in refused
        }
        accepted = [rcpt for rcpt in recipients if rcpt not in refused and rcpt not in deferred]
        if not accepted:
            # What SmtpTransport does when nobody was accepted at RCPT: no DATA, an error.
            replies = {"refused": refused} if refused else {}
            if deferred:
                raise SmtpDeferred(
                    "The SMTP server accepted no recipient and asked to try again later: "
                    + next(iter(deferred.values())),
                    context={**replies, "deferred": deferred},
                )
            raise SmtpRejected(
                "The SMTP server refused every recipient: " + next(iter(refused.values())),
                context=replies,
            )
        self._outbox.messages.append(sent)
        return Delivery(
            accepted=accepted,
            refused=refused,
            deferred=deferred,
            reply=REPLY,
            provider_message_id=PROVIDER_MESSAGE_ID,
        )


_factory: TransportFactory = Outbox()


@dataclass(frozen=True)
class UnbuildableTransports:
    """A `TransportFactory` that cannot build a transport (its credentials unreadable, say):
    each call raises `RuntimeError(why)` before any connection."""

    why: str

    def identity(self, service: Service) -> Hashable:
        return smtp_identity(service)

    def __call__(self, service: Service) -> Transport:
        raise RuntimeError(self.why)


_unbuildable: TransportFactory = UnbuildableTransports("checked by mypy")
