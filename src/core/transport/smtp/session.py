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
costs one round trip instead of two (behind a message of up to 64 KiB: see `_ANNOUNCE_AFTER`).
Anything written after the dot takes away what a reset says (below): the server may have read
the dot, taken the message, and closed (or died) before answering, with the commands after it
unread, which makes its kernel reset. So once the next envelope is written, a reset before the
verdict leaves the outcome unknown, as a close does. The price: a server that aborts in the
middle of such a message, which would otherwise be sent again, holds it as unknown (or sends it
again only under `unknown_outcome: retry`). A server that answers and then resets is heard
(its 250 is read first), and the next message then finds the connection dead before its text.

Why a reset after the final dot differs from a close, and what stays ambiguous:
`core.transport.smtp.classification`. What a session learns on the way: `session_log`.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.network.destination import DestinationForbidden, DestinationPolicy, resolve
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.smtp.authentication import FetchesToken, Login
from core.transport.smtp.classification import (
    Where,
    drops_connection,
    found_dead,
    lost,
    nobody_accepted,
    outcome_unknown,
    protocol_error,
    refusal,
    reset_by_peer,
    socket_cause,
)
from core.transport.smtp.connection import PinnedSMTP, PinnedSMTPSSL
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpTimeout,
    SmtpTlsError,
)
from core.transport.smtp.pipelining import (
    RecipientReplies,
    bdat_last,
    nothing_unread,
    write_envelope,
)
from core.transport.smtp.replies import (
    ReplyTooLarge,
    is_reply_code,
    provider_message_id,
    reply_text,
)
from core.transport.smtp.session_log import SessionLog
from core.transport.smtp.stages import Stage

# The outcome is decided by the time we say goodbye: a slow RSET or QUIT must not hold the caller.
_GOODBYE_SECONDS = 1.0
# The next message is announced only behind a message up to this size: for a bigger one the
# round trip saved is a small share of its transfer, and a server giving up in the middle of it
# (which announcing turns from "send it again" into "unknown") is likelier.
_ANNOUNCE_AFTER = 64 * 1024


class Session:
    """One connection, and the stage it has reached: what a failure means depends on it."""

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

    # --- the steps of a session -----------------------------------------------------------

    def _connect(self, destinations: DestinationPolicy) -> PinnedSMTP:
        host, port = self._endpoint.host, self._endpoint.port
        try:
            # Checked again here, after DNS, whatever was checked when the service was saved:
            # the name may resolve elsewhere now, or the operator may have narrowed the policy.
            addresses = resolve(host, port, destinations)
        except DestinationForbidden as error:
            raise SmtpConnectFailed(
                error.message,
                reason="destination_forbidden",
                context=self._context(),
                transient=False,
            ) from None
        timeout = self._remaining()
        try:
            if self._endpoint.encryption is Encryption.SSL:
                self._client = PinnedSMTPSSL(
                    host,
                    port,
                    addresses,
                    local_hostname=self._ehlo_name,
                    timeout=timeout,
                    deadline=self._deadline,
                    context=self._tls,
                    log=self.log,
                )
            else:
                self._client = PinnedSMTP(
                    host,
                    port,
                    addresses,
                    local_hostname=self._ehlo_name,
                    timeout=timeout,
                    deadline=self._deadline,
                    log=self.log,
                )
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected, ReplyTooLarge):
            # smtplib's own errors, so the connection stood (TLS too): the greeting failed.
            self._stage = Stage.GREETING
            raise
        self._stage = Stage.GREETING
        return self._client

    def _hello(self, client: smtplib.SMTP) -> None:
        """EHLO; HELO only for a server that does not know EHLO (a 5xx to it, never a 4xx)."""
        self._stage = Stage.EHLO
        self._bound(client)
        code, reply = client.ehlo()
        if 500 <= code <= 599:
            self._bound(client)
            code, reply = client.helo()
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        self.log.hello(client)

    def _secure(self, client: smtplib.SMTP) -> None:
        """STARTTLS: required for 'tls', whenever offered for the empty (opportunistic) default.

        Opportunistic goes on in plain text without STARTTLS only when there is nothing secret
        to send; credentials cross a plain connection only when 'none' was chosen explicitly.
        (A man in the middle can strip STARTTLS from the EHLO reply: that is what these
        refusals stop.) Once STARTTLS is answered, smtplib drops whatever it had read beyond
        the 220 (`file = None`) and forgets the EHLO reply, as RFC 3207 asks: nothing injected
        in clear text before the handshake is ever read as a reply after it.
        """
        encryption = self._endpoint.encryption
        if encryption not in (Encryption.TLS, Encryption.OPPORTUNISTIC):
            return
        if not client.has_extn("starttls"):
            if encryption is Encryption.TLS:
                # Going on would put the credentials and the message on the wire in clear text.
                raise SmtpTlsError(
                    "The SMTP server does not offer STARTTLS; refusing to continue without TLS"
                    " (use encryption 'ssl' for port 465, or 'none' only on a trusted network).",
                    context=self._context(),
                )
            if self._login is not None and self._login.needs_tls:
                raise SmtpTlsError(
                    "The SMTP server does not offer STARTTLS, and the service's credentials are"
                    " never sent in clear text unless its encryption is explicitly 'none'. Use"
                    " 'ssl' if the server takes implicit TLS (port 465), have STARTTLS enabled"
                    " on it, or set encryption 'none' only on a trusted network.",
                    context=self._context(),
                )
            return
        self._stage = Stage.STARTTLS
        self._bound(client)
        client.starttls(context=self._tls)
        self.log.secured("starttls", client.sock)
        self._hello(client)

    def _authenticate(self, client: smtplib.SMTP) -> None:
        if self._login is None:
            return
        if not client.has_extn("auth"):
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH, but the service has credentials.",
                context=self._context(),
            )
        if isinstance(self._login, FetchesToken):
            self._stage = Stage.OAUTH2_TOKEN
            self._login.fetch_token(self._deadline)  # its failures are OAuth2's, not SMTP's
            self.log.mark(Stage.OAUTH2_TOKEN)
        self._stage = Stage.AUTH
        self._bound(client)
        self._login.authenticate(client, tls=isinstance(client.sock, ssl.SSLSocket))
        self.log.mark(Stage.AUTH)

    def _transaction(
        self, client: PinnedSMTP, message: bytes, envelope: Envelope, then: Outgoing | None
    ) -> Delivery:
        """MAIL, RCPT..., then the message, in as few round trips as the server allows:

        - PIPELINING and CHUNKING: MAIL, RCPTs, `BDAT <size> LAST` and the message in one
          write, then their replies (`_in_one_flight`): one round trip;
        - PIPELINING: MAIL, RCPTs and DATA in one write, their replies, then the message after
          the 354: two round trips; one, when the envelope went with the last message's dot
          (announced), and this message's dot takes the next one's envelope along (`then`);
        - CHUNKING alone: MAIL and each RCPT in turn, then BDAT and the message in one write;
        - neither: each command in turn, as RFC 5321 has it.
        """
        self._stage = Stage.MAIL
        self._in_transaction = True
        announced, self._announced = self._announced, None
        if announced is None:
            self._in_step(client)
        options = _mail_options(client, message)
        pipelining, chunking = client.has_extn("pipelining"), client.has_extn("chunking")
        if announced is None and pipelining and chunking:
            return self._in_one_flight(client, message, envelope, options)

        if announced is not None:
            # MAIL, the RCPTs and DATA went with the last message; their replies are on the way.
            recipients = self._envelope_replies(client, envelope, owed=1)
        elif pipelining:
            self._bound(client)
            with client.flight():
                write_envelope(client, envelope, options)
                if not chunking:
                    client.putcmd("data")
            recipients = self._envelope_replies(client, envelope, owed=0 if chunking else 1)
        else:
            recipients = self._envelope_in_turn(client, envelope, options)
        if not recipients.accepted:
            if pipelining and not chunking:
                self._discard(client, 1)  # DATA's reply: an error, with nobody to send to
            raise self._nobody_accepted(recipients)

        self._stage = Stage.DATA
        if chunking:
            self._handing_over()
            self._bound(client)
            client.send(bdat_last(message))
        else:
            if not pipelining:
                self._bound(client)
                client.putcmd("data")
            self._bound(client)
            code, reply = client.getreply()
            if code != 354:
                raise self._refusal(code, reply)
            self._handing_over()
            self._bound(client)
            # Raising here (a reset, a closed or a full socket) leaves the stage at DATA: the
            # dot never left, so the server cannot have the message.
            client.send(_data_section(message))
        self._stage = Stage.END_OF_DATA
        if then is not None and pipelining and not chunking and len(message) <= _ANNOUNCE_AFTER:
            self._announce(client, then)
        return self._delivered(client, recipients)

    def _handing_over(self) -> None:
        """The message's text goes next: what the caller runs at that moment (its provider's
        pace) runs now."""
        handover, self._handover = self._handover, None
        if handover is not None:
            handover()

    def _in_step(self, client: PinnedSMTP) -> None:
        """Before a transaction (none announced), the server must have nothing unread to say:
        every reply would otherwise be taken for the next command's. Looked at without waiting
        (no round trip). What it said is read: a 421 or a close is a server giving up on an
        idle connection; anything else answers no command of ours (one reply too many after
        the last message): a protocol error. Either way before a byte of this message left."""
        if nothing_unread(client):
            return
        code, reply = self._reply(client, handed_over=False)
        if code == 421 or not is_reply_code(code):
            raise self._refusal(code, reply)
        raise self._protocol_error(f"a {code} reply to no command, before the transaction")

    def _announce(self, client: PinnedSMTP, then: Outgoing) -> None:
        """Write the next message's MAIL, RCPTs and DATA right behind this one's final dot,
        before its verdict is read: RFC 2920 lets a group begin with a message's text, and the
        server answers this message first, then them. The next `send` finds their replies on
        the way. It is a write of its own, after the one that ends with the dot (the socket
        sends each at once: TCP_NODELAY), so a failure to write the dot still means it never
        left. From here on a reset says nothing of this message: the server may have taken it
        and then reset on what came after, so its outcome is unknown (`_announced` is set)."""
        try:
            self._bound(client)
            with client.flight():
                write_envelope(client, then.envelope, _mail_options(client, then.message))
                client.putcmd("data")
        except (SmtpFailure, smtplib.SMTPServerDisconnected, OSError) as error:
            # No time left, or smtplib closed the socket: no verdict will be read, and the dot
            # was written.
            detail = f"nothing more could be written after the final dot: {error}"
            raise self._unknown(detail) from error
        self._announced = then

    def _in_one_flight(
        self, client: PinnedSMTP, message: bytes, envelope: Envelope, options: list[str]
    ) -> Delivery:
        """The whole transaction in one write: MAIL, RCPTs, `BDAT <size> LAST` and the message.

        Once that write is done the message's last byte is written, so from then on a lost
        connection or silence leaves the outcome unknown, whichever reply was awaited (see
        `_handed_over_reply`); a refusal of the sender or of every recipient still says for
        sure that nobody gets it. Done only once nothing waits unread on the connection
        (`_in_step`): a server that closed it, or said 421, while it sat idle shows at MAIL
        (when it is safe to try again) rather than once the message is written.
        """
        self._stage = Stage.DATA  # a failure while writing is one before the last byte left
        self._handing_over()
        self._bound(client)
        with client.flight():
            write_envelope(client, envelope, options)
            client.send(bdat_last(message))
        recipients = self._envelope_replies(client, envelope, owed=1, handed_over=True)
        if not recipients.accepted:
            self._discard(client, 1)  # BDAT's reply: the server read the chunk, and dropped it
            raise self._nobody_accepted(recipients)
        self._stage = Stage.END_OF_DATA
        return self._delivered(client, recipients)

    def _envelope_in_turn(
        self, client: PinnedSMTP, envelope: Envelope, options: list[str]
    ) -> RecipientReplies:
        """MAIL, then each RCPT, each waiting for its reply."""
        self._bound(client)
        code, reply = client.mail(envelope.sender, options)
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        self._stage = Stage.RCPT
        recipients = RecipientReplies()
        for rcpt in envelope.recipients:
            self._bound(client)
            code, reply = client.rcpt(rcpt)
            self._recipient(recipients, rcpt, code, reply)
        return recipients

    def _envelope_replies(
        self, client: PinnedSMTP, envelope: Envelope, *, owed: int, handed_over: bool = False
    ) -> RecipientReplies:
        """The replies to MAIL and to each RCPT, written together, read in order. `owed`
        more replies follow in the same group (DATA's or BDAT's). A refused sender makes the
        RCPT replies and the rest refusals too (503, "need MAIL"): read, dropped, and MAIL's
        refusal reported."""
        self._stage = Stage.MAIL
        code, reply = self._reply(client, handed_over)
        if not 200 <= code <= 299:
            refusal = self._refusal(code, reply)  # a 421 closes the connection: nothing follows
            self._discard(client, len(envelope.recipients) + owed)
            raise refusal
        self._stage = Stage.RCPT
        recipients = RecipientReplies()
        for rcpt in envelope.recipients:
            code, reply = self._reply(client, handed_over)
            self._recipient(recipients, rcpt, code, reply)
        return recipients

    def _recipient(self, recipients: RecipientReplies, rcpt: str, code: int, reply: bytes) -> None:
        if code == 421 or code // 100 not in (2, 4, 5):
            # The server is closing, is no SMTP server, or answers another command (a 354):
            # no one gets it now.
            raise self._refusal(code, reply)
        recipients.record(rcpt, code, reply_text(code, reply))

    def _delivered(self, client: PinnedSMTP, recipients: RecipientReplies) -> Delivery:
        code, reply = self._verdict(client)
        self._in_transaction = False
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        verdict = reply_text(code, reply)
        return Delivery(
            accepted=recipients.accepted,
            refused=recipients.refused,
            deferred=recipients.deferred,
            reply=verdict,
            provider_message_id=provider_message_id(verdict),
        )

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
        which says the server never read it all (see the module's docstring)."""
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


def _mail_options(client: smtplib.SMTP, message: bytes) -> list[str]:
    """MAIL FROM's parameters: the message's size, for a server that takes SIZE (RFC 1870)."""
    return [f"SIZE={len(message)}"] if client.has_extn("size") else []


def _data_section(message: bytes) -> bytes:
    """The message as smtplib's `data()` writes it: leading dots doubled, then CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
