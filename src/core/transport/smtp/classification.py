"""Turning what an SMTP server said, or what the socket did, into the failures of the table
in `core.transport.smtp.session`, by the stage it happened at.

"Written" means handed to our kernel: `sendall` returns once the final dot is in the socket's
send buffer, not once the server has read it. smtplib writes the whole message before reading
anything, so a server that gives up in the middle of a message (too big, a crash, a dropped
connection) while part of it is still in flight, or unread in its receive buffer, looks at
first like one that broke off after the dot. TCP tells the two apart. A socket closed while its
receive buffer still holds data the application never read is aborted by the kernel with an
RST instead of a FIN (RFC 1122 4.2.2.13; Linux, the BSDs and Windows all do it), and so is one
that gets data after the application closed it; a socket closed after reading everything sends
an orderly FIN. A server takes a message only once it has read the final dot, and we write
nothing after the dot until a reply comes (unless the next message was announced: see above),
so an RST (ECONNRESET; or EPIPE, when the server's FIN came first) means the server closed
before reading the whole message: it did not take it, and trying again is safe. A failure
while writing (`sendall` raising) is as clear: the dot never left. An orderly close (EOF) or
silence once the dot is written says nothing of the kind: the server may have the message, so
the outcome is unknown, and it is not resent unless the service asked for at-least-once
delivery (`unknown_outcome: retry`, honoured by the queue worker).

What stays ambiguous: an RST sent on purpose. A server that sets SO_LINGER to 0 aborts with an
RST even when it has read everything; so a server that took the message and then aborted
without answering would be sent it again, under either `unknown_outcome`. (One that answered
first is heard: Linux hands over what arrived before an RST, then reports the reset, as
measured on Linux 6; unless that 250 is lost on the way, or overtaken.) So would one behind a
TCP proxy or load balancer that resets the client's side on its own account. MTAs
close in an orderly way, so this takes a deliberate abort. The other way round, a server that
closes before the dot with nothing unread at that moment sends a FIN, and the RST only when our
next segment arrives; its close reads as an EOF whichever comes first, so that message is held
as unknown although it was never taken: held when it could have been resent, never lost.

A line with no SMTP reply code at all means the port is not an SMTP server's: that is reported
(reason `not_smtp_server`) without repeating what it said, which could be anything an internal
service answers. Errors carry `context["stage"]` (one of `Stage`) once the TCP connection
stands, and `smtp_code` when the server replied.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

from core.errors import DeliveryFailure
from core.transport.smtp.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from core.transport.smtp.pipelining import RecipientReplies
from core.transport.smtp.replies import is_reply_code, reply_text
from core.transport.smtp.stages import Stage

# A 5xx is SmtpRejected unless the stage says more precisely what went wrong.
_PERMANENT: dict[Stage, type[SmtpFailure]] = {
    Stage.GREETING: SmtpConnectFailed,
    Stage.STARTTLS: SmtpTlsError,
    Stage.AUTH: SmtpAuthFailed,
}
_WHAT: dict[Stage, str] = {
    Stage.GREETING: "the session",
    Stage.EHLO: "our EHLO",
    Stage.STARTTLS: "STARTTLS",
    Stage.AUTH: "our credentials",
    Stage.MAIL: "the sender",
    Stage.RCPT: "the recipients",
    Stage.DATA: "the message",
    Stage.END_OF_DATA: "the message",
}


@dataclass(frozen=True)
class Where:
    """Where a session is when something fails: its server, and the stage it has reached
    (None while connecting: TCP, and TLS for 'ssl')."""

    host: str
    port: int
    stage: Stage | None

    def context(self, **extra: Any) -> dict[str, Any]:
        context: dict[str, Any] = {"host": self.host, "port": self.port}
        if self.stage is not None:
            context["stage"] = self.stage.value
        return {**context, **extra}


# Stages where a failure leaves the message untaken (the final dot never left, or a reset said
# the server did not read it all); absent, the failure came while connecting.
_BEFORE_HANDOVER = frozenset(
    {
        Stage.GREETING,
        Stage.EHLO,
        Stage.STARTTLS,
        Stage.AUTH,
        Stage.MAIL,
        Stage.RCPT,
        Stage.DATA,
    }
)
# 421: the server is closing the channel, which is what one does to a connection idle too long.
_CLOSING = 421


def found_dead(failure: SmtpFailure) -> bool:
    """Whether `failure` says the connection was gone before the message was handed over,
    rather than what a live server thinks of the message: lost with no reply (or its TLS
    broken), or a 421, at a stage before the final dot. A timeout is not counted: it used up
    the time a second try would need. After the dot (`SmtpOutcomeUnknown`) nothing counts.
    On a kept connection that is one the server closed while idle: the session marks the
    failure `stale_connection`, and delivery sends the message once more on a new one."""
    if isinstance(failure, SmtpOutcomeUnknown):
        return False
    stage = failure.context.get("stage")
    if stage is not None and stage not in _BEFORE_HANDOVER:
        return False
    code = failure.context.get("smtp_code")
    if code == _CLOSING:
        return True
    return isinstance(failure, SmtpConnectFailed | SmtpTlsError) and code is None


def drops_connection(code: int) -> bool:
    """Whether a reply other than the one wanted leaves the connection unusable: a 421 (the
    server is closing the channel; no RSET, no QUIT) or an SMTP reply of a class its command
    cannot have (a protocol error: what it says next may be any command's reply)."""
    return code == 421 or (is_reply_code(code) and code // 100 not in (4, 5))


def refusal(code: int, text: bytes | str, where: Where) -> SmtpFailure:
    """The error for a reply other than the one wanted, by its class and the stage."""
    stage = where.stage or Stage.GREETING
    if not is_reply_code(code):
        return not_smtp(where)
    if code // 100 not in (4, 5):
        # A 2xx or 3xx that is not the one wanted (a 250 where DATA's 354 is due, a 354 to
        # MAIL): no answer to this command, but maybe another's.
        return protocol_error(f"a {code} reply, of a class its command cannot have", where)
    reply = reply_text(code, text)
    context = where.context(smtp_code=code)
    if 400 <= code <= 499:
        return SmtpDeferred(
            f"The SMTP server turned {_WHAT[stage]} away for now: {reply}", context=context
        )
    error = _PERMANENT.get(stage, SmtpRejected)
    # Explicitly: a refused greeting is an SmtpConnectFailed, which is transient by default.
    return error(
        f"The SMTP server refused {_WHAT[stage]}: {reply}", context=context, transient=False
    )


def protocol_error(detail: str, where: Where) -> SmtpFailure:
    """A reply that breaks the protocol: over a bound, out of turn, or of a class that cannot
    answer the command. The connection is out of step and must be dropped at once; before the
    final dot nothing was taken, so the message may go again, on another connection."""
    return SmtpConnectFailed(
        f"The SMTP server broke the protocol at {where.stage or Stage.GREETING}: {detail}."
        " The connection was dropped.",
        reason="smtp_protocol_error",
        context=where.context(),
        transient=True,
    )


def not_smtp(where: Where) -> SmtpFailure:
    # What it said is not repeated: it may be an internal service's banner or data.
    return SmtpConnectFailed(
        f"The server at {where.host}:{where.port} is not an SMTP server:"
        " its reply had no SMTP reply code. Check the service's host and port.",
        reason="not_smtp_server",
        context=where.context(),
        transient=False,
    )


def nobody_accepted(recipients: RecipientReplies, where: Where) -> SmtpFailure:
    refused, deferred = recipients.refused, recipients.deferred
    replies = {"refused": refused} if refused else {}
    if deferred:
        return SmtpDeferred(
            "The SMTP server accepted no recipient and asked to try again later: "
            + next(iter(deferred.values())),
            context=where.context(**replies, deferred=deferred),
        )
    return SmtpRejected(
        "The SMTP server refused every recipient: " + next(iter(refused.values())),
        context=where.context(**replies),
    )


def outcome_unknown(detail: str, where: Where) -> SmtpOutcomeUnknown:
    """The message was handed over (`where` is at END_OF_DATA) and never confirmed."""
    return SmtpOutcomeUnknown(
        "The message was handed over but the SMTP server never confirmed it"
        f" ({detail}); it may or may not be delivered.",
        context=where.context(),
    )


def lost(error: OSError, where: Where) -> SmtpFailure:
    """The failure for what smtplib and the socket layer raise outside a reply: a TLS or
    certificate failure, a timeout, or a lost connection. (smtplib's own `SMTPException`s
    are `OSError`s too, so one raised without a reply lands here as well.)"""
    if isinstance(error, ssl.SSLError):  # a certificate failure is one too
        return SmtpTlsError(f"TLS with the SMTP server failed: {error}", context=where.context())
    # smtplib turns a socket error into "disconnected"; the cause tells which.
    cause = socket_cause(error)
    if isinstance(cause, TimeoutError):
        waiting = (
            "stopped reading the message before its final dot"
            if where.stage is Stage.DATA
            else "did not answer in time"
        )
        return SmtpTimeout(f"The SMTP server {waiting}.", context=where.context())
    if where.stage is None:
        failed = "Could not connect to the SMTP server"
    elif where.stage is Stage.DATA:
        failed = "Lost the connection to the SMTP server before the message's final dot"
    else:
        failed = f"Lost the connection to the SMTP server at {where.stage}"
    return SmtpConnectFailed(f"{failed}: {cause}", context=where.context())


def socket_cause(error: BaseException) -> BaseException:
    """The socket's own error behind smtplib's `SMTPServerDisconnected`, which wraps it (as
    the exception being handled) when a read or write fails; `error` itself otherwise."""
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(error.__context__, OSError):
        return error.__context__
    return error


def reset_by_peer(error: BaseException) -> bool:
    """Whether the peer aborted the connection with an RST: ECONNRESET, or EPIPE once its FIN
    had come first. An EOF, a timeout or a TLS error without either is no reset."""
    return isinstance(socket_cause(error), ConnectionResetError | BrokenPipeError)


def certificate_refused(failure: DeliveryFailure | None) -> bool:
    """Whether TLS failed because the server's certificate did not verify."""
    return isinstance(failure, SmtpTlsError) and isinstance(
        failure.__cause__, ssl.SSLCertVerificationError
    )
