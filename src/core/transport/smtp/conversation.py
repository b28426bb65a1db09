"""What every step of an SMTP session stands on: one connection, the stage it has reached,
and the time left; the next reply, read by what it means at that stage; the failure for where
the session stands (`core.transport.smtp.classification` says which).

`Session` (`core.transport.smtp.session`, with the table of what fails how) is built on it, and
so is each of its steps: they read and write the state kept here.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.transport.base import Deadline, Outgoing
from core.transport.smtp.authentication import Login
from core.transport.smtp.classification import (
    Where,
    drops_connection,
    lost,
    nobody_accepted,
    outcome_unknown,
    protocol_error,
    refusal,
    reset_by_peer,
    socket_cause,
)
from core.transport.smtp.connection import PinnedSMTP
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpTimeout,
)
from core.transport.smtp.pipelining import RecipientReplies
from core.transport.smtp.replies import ReplyTooLarge, is_reply_code, reply_text
from core.transport.smtp.session_log import SessionLog
from core.transport.smtp.stages import Stage


class Conversation:
    """One connection, and the stage it has reached: what a reply or a failure means depends
    on it."""

    def __init__(
        self,
        endpoint: SmtpEndpoint,
        tls: ssl.SSLContext,
        ehlo_name: str,
        deadline: Deadline,
        login: Login | None,
    ) -> None:
        self._endpoint = endpoint
        self._login = login  # None: no AUTH
        self._tls = tls
        self._ehlo_name = ehlo_name
        self._deadline = deadline
        self._client: PinnedSMTP | None = None
        self._stage: Stage | None = None  # None while connecting (TCP, and TLS for 'ssl')
        self._in_transaction = False  # MAIL sent and no verdict yet: RSET before QUIT
        # The next message, whose MAIL, RCPTs and DATA were written behind the last one's dot
        # and whose replies are not read yet (see `_announce`). While a verdict is awaited, it
        # also says something was written after that message's dot: a reset then no longer
        # says the server did not take it.
        self._announced: Outgoing | None = None
        self._carried = False  # a message went on this connection: it is a kept one now
        self._handover: Callable[[], None] | None = None  # the coming transaction's (transact)
        self.log = SessionLog()

    # --- reading replies: what each one means at the stage reached ------------------------

    def _reply(self, client: PinnedSMTP, handed_over: bool) -> tuple[int, bytes]:
        """The next reply. Once the message is written (`handed_over`), one that is no SMTP
        reply, or of no class a reply can have (2xx, 4xx, 5xx), leaves its outcome unknown
        whatever command it answers: the server may be taking the message all the same."""
        if not handed_over:
            self._bound(client)
            return client.getreply()
        code, reply = self._handed_over_reply(client)
        if not is_reply_code(code):
            raise self._unknown("a reply that is no SMTP reply")
        if code // 100 not in (2, 4, 5):
            raise self._unknown(f"unexpected reply {reply_text(code, reply)!r}")
        return code, reply

    def _discard(self, client: PinnedSMTP, count: int) -> None:
        """Read and drop the `count` replies still to come of a group whose outcome is
        decided, so that the goodbye is not taken for part of it. Whatever keeps it from
        going on (a 421, a 354 to a DATA we will not follow with a message, a failure or no
        time left) ends the connection instead."""
        try:
            for _ in range(count):
                if client.sock is None:
                    return
                self._bound(client)
                code, _ = client.getreply()
                if code in (354, 421) or not is_reply_code(code):
                    client.close()
        except (SmtpFailure, smtplib.SMTPException, OSError):
            client.close()

    def _verdict(self, client: PinnedSMTP) -> tuple[int, bytes]:
        """The reply to the final dot (or to `BDAT ... LAST`). From the moment the message's
        last byte is written the server may have it, so nothing short of a 2xx, 4xx or 5xx
        tells us whether it will go out, and a resend could deliver it twice; except a reset,
        which says the server never read it all (see `core.transport.smtp.session`)."""
        return self._reply(client, handed_over=True)

    def _handed_over_reply(self, client: PinnedSMTP) -> tuple[int, bytes]:
        """A reply read once the message's last byte is written: a reset is a connection the
        server broke before reading it all (safe to try again); an orderly close, silence or
        no time left, an unknown outcome."""
        try:
            self._bound(client)
            return client.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            if reset_by_peer(error) and self._announced is None:
                self._stage = Stage.DATA
                raise SmtpConnectFailed(
                    "The SMTP server reset the connection before reading the whole message"
                    f" ({socket_cause(error)}); it did not take it, so trying again is safe.",
                    context=self._context(),
                ) from error
            self._stage = Stage.END_OF_DATA
            raise self._unknown(str(error)) from error
        except (SmtpFailure, smtplib.SMTPException) as error:
            self._stage = Stage.END_OF_DATA
            raise self._unknown(str(error)) from error

    # --- time -----------------------------------------------------------------------------

    def _remaining(self) -> float:
        remaining = self._deadline.remaining()
        if remaining <= 0:
            raise SmtpTimeout(
                "The time budget for this send ran out before the SMTP server answered.",
                context=self._context(),
            )
        return remaining

    def _bound(self, client: smtplib.SMTP) -> None:
        """smtplib takes one timeout per socket operation; shrink it to what the deadline leaves."""
        remaining = self._remaining()
        if client.sock is not None:
            client.sock.settimeout(remaining)

    # --- failures: what went wrong, by `classification`; dropping what cannot go on ------

    def _where(self) -> Where:
        return Where(self._endpoint.host, self._endpoint.port, self._stage)

    def _context(self, **extra: Any) -> dict[str, Any]:
        return self._where().context(**extra)

    def _refusal(self, code: int, text: bytes | str) -> SmtpFailure:
        """The error for a reply other than the one wanted, by its class and the stage."""
        if drops_connection(code) and self._client is not None:
            self._client.close()
        return refusal(code, text, self._where())

    def _protocol_error(self, detail: str) -> SmtpFailure:
        """A reply that breaks the protocol; the connection is dropped at once."""
        if self._client is not None:
            self._client.close()
        return protocol_error(detail, self._where())

    def _nobody_accepted(self, recipients: RecipientReplies) -> SmtpFailure:
        return nobody_accepted(recipients, self._where())

    def _unknown(self, detail: str) -> SmtpOutcomeUnknown:
        self._stage = Stage.END_OF_DATA
        return outcome_unknown(detail, self._where())

    @contextmanager
    def _as_api_errors(self) -> Iterator[None]:
        """Map what smtplib and the socket layer raise onto the API's error taxonomy."""
        try:
            yield
        except SmtpFailure:
            raise
        except ReplyTooLarge as error:
            raise self._protocol_error(str(error)) from error
        except smtplib.SMTPResponseException as error:
            # A refusal smtplib checked itself: STARTTLS, AUTH.
            raise self._refusal(error.smtp_code, error.smtp_error) from error
        except OSError as error:  # smtplib's own errors are OSErrors too
            raise lost(error, self._where()) from error
