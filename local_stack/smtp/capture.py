"""The one aiosmtpd handler that takes messages: it answers as scripted, records what it saw,
and hands every message it accepts to whoever keeps it.

Refusals are scripted as `Replies`: the same for every transaction, or one `Replies` per
transaction (the n-th MAIL FROM is answered by `script[n]`, and by `replies` once the script is
done), for a server that fails first and recovers later. With `credentials` a session must
authenticate with exactly those before MAIL FROM; AUTH itself is offered by the server
(`LoopbackSmtp(authenticator=handler.authenticate)`).
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from local_stack.smtp.loopback import is_tls

ACCEPTED = "250 2.0.0 OK: queued"


@dataclass(frozen=True)
class Replies:
    """Scripted refusals; `None` (or a recipient not listed) gets the normal 250."""

    mail_from: str | None = None
    rcpt: Mapping[str, str] = field(default_factory=dict)
    every_rcpt: str | None = None
    data: str | None = None


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # the DATA section, dot-unstuffed, exactly as it came over the wire
    tls: bool
    auth_login: str | None
    # When the final dot arrived (epoch seconds): made as the server takes the message.
    arrived_at: float = field(default_factory=time.time)

    def parsed(self) -> EmailMessage:
        """The message as a mailbox stores it: with local line endings, so that decoded text
        has no stray CRs."""
        local = self.data.replace(b"\r\n", b"\n")
        message = email.message_from_bytes(local, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass(frozen=True)
class AuthAttempt:
    mechanism: str
    login: str
    success: bool
    tls: bool


class CaptureHandler:
    """aiosmtpd handler and authenticator: answers as scripted, hands each accepted message
    to `keep`, and records every transaction and AUTH attempt.

    Everything is recorded, and `keep` called, on the server's thread before it answers the
    client: once a send has returned, everything it caused is here.
    """

    def __init__(
        self,
        keep: Callable[[Received], None],
        *,
        credentials: tuple[str, str] | None = None,
        replies: Replies | None = None,
        script: Sequence[Replies] = (),
        accepted: str = ACCEPTED,
    ) -> None:
        self._keep = keep
        self._credentials = credentials
        self._replies = replies or Replies()
        self._script = list(script)
        self._accepted = accepted
        self.senders: list[str] = []  # every MAIL FROM, answered 250 or not
        self.recipients: list[list[str]] = []  # the RCPT TOs of each transaction, all of them
        # Not `auth_...`: aiosmtpd would offer any handler attribute named so as a mechanism.
        self.logins: list[AuthAttempt] = []  # every AUTH attempt

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        success = self._credentials == (login, password)
        self.logins.append(AuthAttempt(mechanism, login, success, is_tls(server)))
        return AuthResult(success=success, handled=False, auth_data=login if success else None)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.senders.append(address)
        self.recipients.append([])
        # Checked here rather than with aiosmtpd's `auth_required`, which only counts
        # STARTTLS as encryption and would refuse AUTH on an implicit-TLS connection.
        if self._credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        refusal = self._current().mail_from
        if refusal:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.recipients[-1].append(address)
        replies = self._current()
        refusal = replies.rcpt.get(address) or replies.every_rcpt
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._current().data
        if refusal:
            return refusal
        self._keep(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                tls=is_tls(server),
                auth_login=session.auth_data if session.authenticated else None,
            )
        )
        return self._accepted

    def _current(self) -> Replies:
        """The replies for the transaction under way (the latest MAIL FROM's)."""
        index = len(self.senders) - 1
        return self._script[index] if 0 <= index < len(self._script) else self._replies
