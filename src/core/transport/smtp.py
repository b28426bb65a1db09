"""Delivering a message over SMTP with smtplib, one stage at a time.

A session is: connect (with implicit TLS for 'ssl'), greeting, EHLO, STARTTLS for 'tls', AUTH
when the service has credentials, then one transaction: MAIL FROM, RCPT TO per recipient, DATA.
The transaction is driven with smtplib's primitives rather than `sendmail()` so that a failure
is known by the stage it happened at, which decides whether trying again is safe:

| what happened                                             | raised             | transient |
| --------------------------------------------------------- | ------------------ | --------- |
| a 4xx reply at any stage (421, 450, 451, 452, 454, ...)   | SmtpDeferred       | yes       |
| a 5xx reply to the greeting (554)                         | SmtpConnectFailed  | no        |
| a 5xx reply to STARTTLS; a TLS or certificate failure     | SmtpTlsError       | no        |
| a 5xx reply to AUTH (535, ...); no AUTH offered           | SmtpAuthFailed     | no        |
| a 5xx reply to EHLO/HELO, MAIL, DATA or the final dot     | SmtpRejected       | no        |
| no recipient accepted, every refusal a 5xx                | SmtpRejected       | no        |
| no recipient accepted, at least one refusal a 4xx         | SmtpDeferred       | yes       |
| connection refused, reset or closed before the final dot  | SmtpConnectFailed  | yes       |
| no answer in time before the final dot                    | SmtpTimeout        | yes       |
| anything going wrong once the final dot is written        | SmtpOutcomeUnknown | no        |

A reply of no known class (a garbled line, a 3xx where a 250 belongs) counts as a 5xx, except
after the final dot, where it leaves the outcome unknown. Errors carry `context["stage"]`
(one of `Stage`) once the TCP connection stands, and `smtp_code` when the server replied.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from core.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from core.services.model import Encryption
from core.transport.base import Deadline, Delivery, Envelope, SmtpEndpoint

# The outcome is decided by the time we say goodbye: a slow RSET or QUIT must not hold the caller.
_GOODBYE_SECONDS = 1.0


class Stage(StrEnum):
    """Where in the session a failure happened."""

    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"  # the DATA command, its 354, and the message up to its final dot
    END_OF_DATA = "end_of_data"  # the final dot is written: waiting for the verdict


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


class SmtpTransport:
    """One endpoint, one TLS context; each `send` is one SMTP session."""

    def __init__(self, endpoint: SmtpEndpoint, *, tls: ssl.SSLContext, ehlo_name: str) -> None:
        self.endpoint = endpoint
        self._tls = tls
        self._ehlo_name = ehlo_name or "localhost"

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        """Hand `message` over in one transaction, or raise an `SmtpFailure` (see the table).

        A `Delivery` comes back only when the server took the message for at least one
        recipient; it lists those refused (5xx) and deferred (4xx) at RCPT, so a retry can go
        to the deferred ones alone. When no recipient is accepted no DATA is sent and the send
        raises, with the per-recipient replies in `context["refused"]` / `context["deferred"]`:
        `SmtpRejected` if every refusal was a 5xx, else `SmtpDeferred` (retrying them all is
        safe: nothing was sent, and the 5xx ones are refused again). So a synchronous caller
        always gets an error when nobody got the message, and a queue worker needs no
        "accepted nobody" case: it retries transient errors and settles the rest.
        """
        session = _Session(self.endpoint, self._tls, self._ehlo_name, deadline)
        return session.deliver(message, envelope)


class _Session:
    """One connection, and the stage it has reached: what a failure means depends on it."""

    def __init__(
        self, endpoint: SmtpEndpoint, tls: ssl.SSLContext, ehlo_name: str, deadline: Deadline
    ) -> None:
        self._endpoint = endpoint
        self._tls = tls
        self._ehlo_name = ehlo_name
        self._deadline = deadline
        self._client: smtplib.SMTP | None = None
        self._stage: Stage | None = None  # None while connecting (TCP, and TLS for 'ssl')
        self._in_transaction = False  # MAIL sent and no verdict yet: RSET before QUIT

    def deliver(self, message: bytes, envelope: Envelope) -> Delivery:
        with self._as_api_errors():
            try:
                client = self._connect()
                self._hello(client)
                self._secure(client)
                self._authenticate(client)
                return self._transaction(client, message, envelope)
            finally:
                self._finish()

    # --- the steps of a session -----------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        host, port = self._endpoint.host, self._endpoint.port
        timeout = self._remaining()
        try:
            if self._endpoint.encryption is Encryption.SSL:
                self._client = smtplib.SMTP_SSL(
                    host, port, local_hostname=self._ehlo_name, timeout=timeout, context=self._tls
                )
            else:
                self._client = smtplib.SMTP(
                    host, port, local_hostname=self._ehlo_name, timeout=timeout
                )
        except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected):
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

    def _secure(self, client: smtplib.SMTP) -> None:
        if self._endpoint.encryption is not Encryption.TLS:
            return
        if not client.has_extn("starttls"):
            # Going on would put the credentials and the message on the wire in clear text.
            raise SmtpTlsError(
                "The SMTP server does not offer STARTTLS; refusing to continue without TLS"
                " (use encryption 'ssl' for port 465, or 'none' only on a trusted network).",
                context=self._context(),
            )
        self._stage = Stage.STARTTLS
        self._bound(client)
        client.starttls(context=self._tls)
        self._hello(client)

    def _authenticate(self, client: smtplib.SMTP) -> None:
        if not self._endpoint.username:
            return
        if not client.has_extn("auth"):
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH, but the service has credentials.",
                context=self._context(),
            )
        self._stage = Stage.AUTH
        self._bound(client)
        client.login(self._endpoint.username, self._endpoint.password or "")

    def _transaction(self, client: smtplib.SMTP, message: bytes, envelope: Envelope) -> Delivery:
        self._stage = Stage.MAIL
        self._in_transaction = True
        options = [f"SIZE={len(message)}"] if client.has_extn("size") else []
        self._bound(client)
        code, reply = client.mail(envelope.sender, options)
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)

        self._stage = Stage.RCPT
        accepted: list[str] = []
        refused: dict[str, str] = {}
        deferred: dict[str, str] = {}
        for rcpt in envelope.recipients:
            self._bound(client)
            code, reply = client.rcpt(rcpt)
            if 200 <= code <= 299:
                accepted.append(rcpt)
            elif code == 421:
                raise self._refusal(code, reply)  # the server is closing: no one gets it now
            elif 400 <= code <= 499:
                deferred[rcpt] = _reply_text(code, reply)
            else:
                refused[rcpt] = _reply_text(code, reply)
        if not accepted:
            raise self._nobody_accepted(refused, deferred)

        self._stage = Stage.DATA
        self._bound(client)
        client.putcmd("data")
        code, reply = client.getreply()
        if code != 354:
            raise self._refusal(code, reply)
        self._bound(client)
        client.send(_data_section(message))
        self._stage = Stage.END_OF_DATA
        code, reply = self._verdict(client)
        self._in_transaction = False
        if not 200 <= code <= 299:
            raise self._refusal(code, reply)
        return Delivery(
            accepted=accepted, refused=refused, deferred=deferred, reply=_reply_text(code, reply)
        )

    def _verdict(self, client: smtplib.SMTP) -> tuple[int, bytes]:
        """The reply to the final dot. From the moment it is written the server may have the
        message, so nothing short of a 2xx, 4xx or 5xx tells us whether it will go out; a
        resend could deliver it twice."""
        try:
            self._bound(client)
            code, reply = client.getreply()
        except (SmtpFailure, smtplib.SMTPException, OSError) as error:
            raise self._unknown(str(error)) from error
        if code // 100 not in (2, 4, 5):
            raise self._unknown(f"unexpected reply {_reply_text(code, reply)!r}")
        return code, reply

    def _finish(self) -> None:
        """RSET a transaction left open, then QUIT, within what the deadline leaves; never
        raises: the outcome is decided, and a slow or vanished server just gets closed."""
        client = self._client
        if client is None:
            return
        goodbye = [client.rset, client.quit] if self._in_transaction else [client.quit]
        try:
            for command in goodbye:
                wait = min(self._deadline.remaining(), _GOODBYE_SECONDS)
                if client.sock is None or wait <= 0:
                    break
                client.sock.settimeout(wait)
                command()
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

    # --- failures -------------------------------------------------------------------------

    def _context(self, **extra: Any) -> dict[str, Any]:
        context: dict[str, Any] = {"host": self._endpoint.host, "port": self._endpoint.port}
        if self._stage is not None:
            context["stage"] = self._stage.value
        return {**context, **extra}

    def _refusal(self, code: int, text: bytes | str) -> SmtpFailure:
        """The error for a reply other than the one wanted, by its class and the stage."""
        stage = self._stage or Stage.GREETING
        reply = _reply_text(code, text)
        context = self._context(smtp_code=code)
        if code == 421 and self._client is not None:
            self._client.close()  # 421: the server is closing the channel; no RSET, no QUIT
        if 400 <= code <= 499:
            return SmtpDeferred(
                f"The SMTP server turned {_WHAT[stage]} away for now: {reply}", context=context
            )
        error = _PERMANENT.get(stage, SmtpRejected)
        # Explicitly: a refused greeting is an SmtpConnectFailed, which is transient by default.
        return error(
            f"The SMTP server refused {_WHAT[stage]}: {reply}", context=context, transient=False
        )

    def _nobody_accepted(self, refused: dict[str, str], deferred: dict[str, str]) -> SmtpFailure:
        replies = {"refused": refused} if refused else {}
        if deferred:
            return SmtpDeferred(
                "The SMTP server accepted no recipient and asked to try again later: "
                + next(iter(deferred.values())),
                context=self._context(**replies, deferred=deferred),
            )
        return SmtpRejected(
            "The SMTP server refused every recipient: " + next(iter(refused.values())),
            context=self._context(**replies),
        )

    def _unknown(self, detail: str) -> SmtpOutcomeUnknown:
        return SmtpOutcomeUnknown(
            "The message was handed over but the SMTP server never confirmed it"
            f" ({detail}); it may or may not be delivered.",
            context=self._context(),
        )

    @contextmanager
    def _as_api_errors(self) -> Iterator[None]:
        """Map what smtplib and the socket layer raise onto the API's error taxonomy."""
        try:
            yield
        except SmtpFailure:
            raise
        except smtplib.SMTPResponseException as error:
            # A refusal smtplib checked itself: STARTTLS, AUTH, an over-long reply line.
            raise self._refusal(error.smtp_code, error.smtp_error) from error
        except ssl.SSLError as error:  # a certificate failure is one too
            raise SmtpTlsError(
                f"TLS with the SMTP server failed: {error}", context=self._context()
            ) from error
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            # smtplib turns a timeout while reading into "disconnected"; the cause tells.
            if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
                raise SmtpTimeout(
                    "The SMTP server did not answer in time.", context=self._context()
                ) from error
            failed = (
                f"Lost the connection to the SMTP server at {self._stage}"
                if self._stage
                else "Could not connect to the SMTP server"
            )
            raise SmtpConnectFailed(f"{failed}: {error}", context=self._context()) from error
        except smtplib.SMTPException as error:
            # smtplib gave up without a reply (no AUTH mechanism in common, say).
            stage = self._stage or Stage.GREETING
            raise _PERMANENT.get(stage, SmtpRejected)(
                f"SMTP failed at {stage}: {error}", context=self._context(), transient=False
            ) from error


def _data_section(message: bytes) -> bytes:
    """The message as smtplib's `data()` writes it: leading dots doubled, then CRLF.CRLF."""
    stuffed = re.sub(rb"(?m)^\.", b"..", message)
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


def _reply_text(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {decoded}".strip()
