"""An in-memory transport for unit tests, after django-anymail's test backend.

`Outbox.transport_for` is a `TransportFactory`: the Mailer builds its transport with it and
every send lands in `outbox.messages` instead of on a socket. Prime `failure` to make the
next sends raise (as a real transport would, with an `SmtpFailure`), or `refuse` to have
some recipients refused while the rest are accepted.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from email.message import EmailMessage

from core.errors import SmtpFailure, SmtpRejected
from core.transport.base import Deadline, Delivery, Envelope, SmtpEndpoint


@dataclass(frozen=True)
class SentMessage:
    """One message handed to the transport: where to, the envelope, and the exact bytes."""

    endpoint: SmtpEndpoint
    envelope: Envelope
    raw: bytes
    deadline: Deadline

    def parsed(self) -> EmailMessage:
        # As a mailbox stores it: with local line endings, so decoded text has no stray CRs.
        local = self.raw.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(local, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Outbox:
    messages: list[SentMessage] = field(default_factory=list)
    # Every endpoint a transport was built for, sent on or not.
    endpoints: list[SmtpEndpoint] = field(default_factory=list)
    failure: SmtpFailure | None = None
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> the server's reply

    def transport_for(self, endpoint: SmtpEndpoint) -> OutboxTransport:
        self.endpoints.append(endpoint)
        return OutboxTransport(self, endpoint)

    @property
    def only_message(self) -> SentMessage:
        assert len(self.messages) == 1, f"expected one message, got {len(self.messages)}"
        return self.messages[0]


class OutboxTransport:
    def __init__(self, outbox: Outbox, endpoint: SmtpEndpoint) -> None:
        self._outbox = outbox
        self._endpoint = endpoint

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        if self._outbox.failure is not None:
            raise self._outbox.failure
        refused = {
            rcpt: reply
            for rcpt, reply in self._outbox.refuse.items()
            if rcpt in envelope.recipients
        }
        if refused and len(refused) == len(envelope.recipients):
            # What SmtpTransport does when smtplib reports every recipient refused.
            raise SmtpRejected(
                "The SMTP server refused every recipient.", context={"refused": refused}
            )
        self._outbox.messages.append(SentMessage(self._endpoint, envelope, message, deadline))
        return Delivery(
            accepted=[rcpt for rcpt in envelope.recipients if rcpt not in refused], refused=refused
        )
