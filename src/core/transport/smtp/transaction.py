"""One SMTP transaction on an open session: MAIL FROM, RCPT TO per recipient, then the message
by DATA or BDAT, in as few round trips as the server allows (PIPELINING, CHUNKING); behind its
final dot, the next message's envelope when one was announced; and, once the envelope is
accepted, the caller's hand-over hook (its pace) just before the message's text is written.

Why each path is taken, and what fails how at each stage: `core.transport.smtp.session`.
"""

from __future__ import annotations

import re
import smtplib

from core.transport.base import Delivery, Envelope, Outgoing
from core.transport.smtp.connection import PinnedSMTP
from core.transport.smtp.conversation import Conversation
from core.transport.smtp.errors import SmtpFailure
from core.transport.smtp.pipelining import (
    RecipientReplies,
    bdat_last,
    nothing_unread,
    write_envelope,
)
from core.transport.smtp.replies import is_reply_code, provider_message_id, reply_text
from core.transport.smtp.stages import Stage

# The next message is announced only behind a message up to this size: for a bigger one the
# round trip saved is a small share of its transfer, and a server giving up in the middle of it
# (which announcing turns from "send it again" into "unknown") is likelier.
_ANNOUNCE_AFTER = 64 * 1024


class Transacting(Conversation):
    """The transactions of an open session, one after another: each a MAIL, RCPT..., and the
    message, the stage set as it goes so that a failure says whether the server may have it."""

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


def _mail_options(client: smtplib.SMTP, message: bytes) -> list[str]:
    """MAIL FROM's parameters: the message's size, for a server that takes SIZE (RFC 1870)."""
    return [f"SIZE={len(message)}"] if client.has_extn("size") else []


def _data_section(message: bytes) -> bytes:
    """The message as smtplib's `data()` writes it: leading dots doubled, then CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
