"""An SMTP session with smtplib, one stage at a time.

A session is: connect (to an address the destination guard checked, with implicit TLS for
'ssl'), greeting, EHLO, STARTTLS (required for 'tls', whenever offered for the empty default),
AUTH when the service has credentials (PLAIN first over TLS: one round trip), then one
transaction: MAIL FROM, RCPT TO per recipient, DATA. When EHLO offers PIPELINING (RFC 2920),
MAIL, the RCPTs and DATA are written at once and their replies read in order; with CHUNKING
(RFC 3030) the message goes as `BDAT <size> LAST` and its bytes as built, in that same write
when both are offered: one round trip for the whole transaction. QUIT is written and its reply
never awaited. The transaction is driven with smtplib's primitives rather than `sendmail()` so
that a failure is known by the stage it happened at, which decides whether trying again is safe:

| what happened                                            | raised             | transient |
| -------------------------------------------------------- | ------------------ | --------- |
| a 4xx reply at any stage (421, 450, 451, 452, 454, ...)  | SmtpDeferred       | yes       |
| a 5xx reply to the greeting (554)                        | SmtpConnectFailed  | no        |
| the host or port is refused by the destination guard     | SmtpConnectFailed  | no        |
| a reply that is no SMTP reply (an HTTP server, say)      | SmtpConnectFailed  | no        |
| a 5xx reply to STARTTLS; a TLS or certificate failure    | SmtpTlsError       | no        |
| no STARTTLS offered for 'tls', or for credentials        | SmtpTlsError       | no        |
| a 5xx reply to AUTH (535, ...); no AUTH offered          | SmtpAuthFailed     | no        |
| a 5xx reply to EHLO/HELO, MAIL, DATA or the final dot    | SmtpRejected       | no        |
| no recipient accepted, every refusal a 5xx               | SmtpRejected       | no        |
| no recipient accepted, at least one refusal a 4xx        | SmtpDeferred       | yes       |
| refused, reset or closed before the final dot is written | SmtpConnectFailed  | yes       |
| a reply over its bounds, out of turn, or not fitting its | SmtpConnectFailed  | yes       |
| command, before the final dot (`smtp_protocol_error`)    |                    |           |
| reset (RST) after the final dot was written              | SmtpConnectFailed  | yes       |
| no answer in time before the final dot is written        | SmtpTimeout        | yes       |
| closed (EOF) or no answer in time after the final dot    | SmtpOutcomeUnknown | no        |
| no 2xx, 4xx or 5xx reply to the final dot, or one over   | SmtpOutcomeUnknown | no        |
| its bounds                                               |                    |           |

With CHUNKING the message's last byte plays the final dot's part throughout: once written, the
outcome may be unknown (stage END_OF_DATA). Pipelined with MAIL and the RCPTs, it is written
before any of their replies is read, so a close (EOF), silence, or a reply that is no SMTP reply
while reading any of them leaves the outcome unknown, where the same fault without CHUNKING
comes before the dot and is safe to retry; a refusal of the sender (its RCPTs' and BDAT's 503s
read and dropped), a 421, or no recipient accepted still say for sure that nobody got it. So
that a connection the server gave up on while idle (a 421, or a close) is not taken for one
that may have the message, every transaction first looks, without waiting, for anything the
server said unread (see below); one that closes in the instant between that look and the write
is still held as unknown: held, never lost.

Every reply is read within bounds and within the stage's deadline (`core.transport.smtp.replies`:
a line of 2 KiB, a reply of 256 lines and 64 KiB, every read from the socket waiting no longer
than the time left), so a server streaming a reply without end, or a line at a time, costs no
more memory or time than that. And a kept connection is used only while it is in step: before
a transaction whose envelope was not announced, whatever the server said unread is read (no
round trip: only when something is there); a 421 or a close fails the transaction at MAIL, as
a server closing an idle connection does, and anything else (one reply too many after the last
message) is a protocol error. A reply that cannot answer its command (a 250 to DATA where a
354 is due, a 354 to MAIL or RCPT, a 250 greeting: of a class the command does not have) is
one too, not a refusal: it may be another command's. A protocol error drops the connection at
once; before the final dot it is transient (nothing was taken, and the delivery goes again on
a new connection: see `found_dead`), after it the outcome is unknown. No time left is a
timeout, as silence is.

A sender with more messages for the same server (the queue worker's batch) names the next one
(`SmtpTransport.announce`; the session's `then`). With PIPELINING and no CHUNKING, its MAIL,
RCPTs and DATA are written right behind this message's final dot (RFC 2920 lets a group begin
with a message's text), so its replies come right after this one's verdict and each message
costs one round trip instead of two (behind a message of up to 64 KiB: see `transaction`).
Anything written after the dot takes away what a reset says (below): the server may have read
the dot, taken the message, and closed (or died) before answering, with the commands after it
unread, which makes its kernel reset. So once the next envelope is written, a reset before the
verdict leaves the outcome unknown, as a close does. The price: a server that aborts in the
middle of such a message, which would otherwise be sent again, holds it as unknown (or sends it
again only under `unknown_outcome: retry`). A server that answers and then resets is heard
(its 250 is read first), and the next message then finds the connection dead before its text.

Why a reset after the final dot differs from a close, and what stays ambiguous:
`core.transport.smtp.classification`. What a session learns on the way: `session_log`.

Where its parts live: `Session` below is the session's face (open, transact, finish); the
state every step shares, the time left, each reply read by what it means at the stage reached,
and the failure for where the session stands: `conversation`; connecting, the greeting, EHLO,
STARTTLS and AUTH: `opening`; the transaction (the envelope, DATA or BDAT, pipelined or in
turn, the next envelope announced, the hand-over hook): `transaction`.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable

from core.network.destination import DestinationPolicy
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.smtp.classification import found_dead
from core.transport.smtp.errors import SmtpFailure
from core.transport.smtp.opening import Opening
from core.transport.smtp.transaction import Transacting

# The outcome is decided by the time we say goodbye: a slow RSET or QUIT must not hold the caller.
_GOODBYE_SECONDS = 1.0


class Session(Opening, Transacting):
    """One connection, and the stage it has reached: what a failure means depends on it."""

    def open(self, destinations: DestinationPolicy) -> None:
        """Connect, greet, secure and authenticate: a session ready for transactions."""
        with self._as_api_errors():
            client = self._connect(destinations)
            self._hello(client)
            self._secure(client)
            self._authenticate(client)

    def handshake(self, destinations: DestinationPolicy) -> None:
        """Connect, greet and secure, no further: enough to see the server's certificate."""
        with self._as_api_errors():
            client = self._connect(destinations)
            self._hello(client)
            self._secure(client)

    def transact(
        self,
        message: bytes,
        envelope: Envelope,
        deadline: Deadline,
        *,
        then: Outgoing | None,
        handover: Callable[[], None] | None = None,
    ) -> Delivery:
        """One MAIL, RCPT..., DATA transaction on the open session, within `deadline`; `then`
        is announced behind it when the server takes that (see `_announce`). `handover` runs
        just before the message's text is written, once its envelope was accepted (what it
        raises ends the transaction with the text unwritten: the server cannot have it).

        A failure says `stale_connection` when this session carried a message before and
        `found_dead` holds: the server dropped a connection it let sit idle, before a byte of
        this message could be taken, so the caller may send it once more on a new one.
        """
        assert self._client is not None  # open() succeeded
        self._deadline = self._client.deadline = deadline
        self._handover = handover
        try:
            with self._as_api_errors():
                delivery = self._transaction(self._client, message, envelope, then)
        except SmtpFailure as failure:
            failure.stale_connection = self._carried and found_dead(failure)
            raise
        self._carried = True
        return delivery

    @property
    def round_trips(self) -> int:
        """The round trips this session's connection took so far (0: not connected)."""
        return self._client.round_trips if self._client is not None else 0

    def expects(self, outgoing: Outgoing) -> bool:
        """Whether `outgoing` may be the session's next transaction: nothing else was announced."""
        return self._announced is None or self._announced == outgoing

    def finish(self) -> None:
        """Say goodbye and close, within what the deadline leaves; never raises: the outcome
        is decided, and a slow or vanished server just gets closed.

        QUIT is written and not waited for: its reply would change nothing. A transaction left
        open is reset first (RSET), in the same write when the server takes pipelined commands
        (RFC 2920 lets QUIT end a group), else waiting for RSET's reply as RFC 5321 wants.
        """
        client = self._client
        if client is None:
            return
        if self._announced is not None:
            # A DATA is out whose 354 waits for text: whatever we wrote now would be taken for
            # the message. Closing without a final dot leaves it unsent.
            client.close()
            return
        try:
            wait = min(self._deadline.remaining(), _GOODBYE_SECONDS)
            if client.sock is None or wait <= 0:
                return
            client.deadline = Deadline.after(wait)
            client.sock.settimeout(wait)
            goodbye = "QUIT\r\n"
            if self._in_transaction:
                if client.has_extn("pipelining"):
                    goodbye = "RSET\r\n" + goodbye
                else:
                    client.rset()
            client.send(goodbye)
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()
