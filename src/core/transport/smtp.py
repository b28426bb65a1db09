"""Delivering a message over SMTP with smtplib: STARTTLS, implicit TLS or plain, then AUTH."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpFailure,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from core.services.model import Encryption
from core.transport.base import Deadline, Delivery, Envelope, SmtpEndpoint


class SmtpTransport:
    """One endpoint, one TLS context; each `send` is one SMTP session."""

    def __init__(self, endpoint: SmtpEndpoint, *, tls: ssl.SSLContext, ehlo_name: str) -> None:
        self.endpoint = endpoint
        self._tls = tls
        self._ehlo_name = ehlo_name or "localhost"

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        with self._as_api_errors():
            client = self._connect(deadline)
            try:
                self._secure(client, deadline)
                self._authenticate(client, deadline)
                _bound(client, deadline)
                refused = client.sendmail(envelope.sender, envelope.recipients, message)
            finally:
                _close(client)
        return Delivery(
            accepted=[rcpt for rcpt in envelope.recipients if rcpt not in refused],
            refused={rcpt: _reply_text(code, text) for rcpt, (code, text) in refused.items()},
        )

    # --- the steps of a session -----------------------------------------------------------

    def _connect(self, deadline: Deadline) -> smtplib.SMTP:
        host, port = self.endpoint.host, self.endpoint.port
        timeout = _remaining(deadline)
        if self.endpoint.encryption is Encryption.SSL:
            return smtplib.SMTP_SSL(
                host, port, local_hostname=self._ehlo_name, timeout=timeout, context=self._tls
            )
        return smtplib.SMTP(host, port, local_hostname=self._ehlo_name, timeout=timeout)

    def _secure(self, client: smtplib.SMTP, deadline: Deadline) -> None:
        if self.endpoint.encryption is not Encryption.TLS:
            return
        _bound(client, deadline)
        client.ehlo()
        if not client.has_extn("starttls"):
            # Going on would put the credentials and the message on the wire in clear text.
            raise SmtpTlsError(
                "The SMTP server does not offer STARTTLS; refusing to continue without TLS"
                " (use encryption 'ssl' for port 465, or 'none' only on a trusted network).",
                context={"host": self.endpoint.host, "port": self.endpoint.port},
            )
        client.starttls(context=self._tls)
        _bound(client, deadline)
        client.ehlo()

    def _authenticate(self, client: smtplib.SMTP, deadline: Deadline) -> None:
        if not self.endpoint.username:
            return
        _bound(client, deadline)
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise SmtpAuthFailed(
                "The SMTP server does not offer AUTH, but the service has credentials.",
                context={"host": self.endpoint.host},
            )
        client.login(self.endpoint.username, self.endpoint.password or "")

    # --- failures -------------------------------------------------------------------------

    @contextmanager
    def _as_api_errors(self) -> Iterator[None]:
        """Map smtplib's and the socket layer's exceptions onto the API's error taxonomy."""
        where = {"host": self.endpoint.host, "port": self.endpoint.port}
        try:
            yield
        except SmtpFailure:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise SmtpAuthFailed(
                f"SMTP authentication failed: {_reply_text(error.smtp_code, error.smtp_error)}",
                context={**where, "smtp_code": error.smtp_code},
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            refused = {
                rcpt: _reply_text(code, text) for rcpt, (code, text) in error.recipients.items()
            }
            raise SmtpRejected(
                "The SMTP server refused every recipient.", context={**where, "refused": refused}
            ) from error
        except smtplib.SMTPConnectError as error:
            reply = _reply_text(error.smtp_code, error.smtp_error)
            raise SmtpConnectFailed(
                f"The SMTP server refused the session: {reply}",
                context={**where, "smtp_code": error.smtp_code},
            ) from error
        except smtplib.SMTPResponseException as error:
            # Sender refused, data refused, HELO refused, STARTTLS refused, ...
            reply = _reply_text(error.smtp_code, error.smtp_error)
            raise SmtpRejected(
                f"The SMTP server rejected the message: {reply}",
                context={**where, "smtp_code": error.smtp_code},
            ) from error
        except smtplib.SMTPServerDisconnected as error:
            if isinstance(error.__context__, TimeoutError):
                raise SmtpTimeout(
                    "The SMTP server did not answer in time.", context=where
                ) from error
            raise SmtpConnectFailed(
                f"The SMTP server closed the connection: {error}", context=where
            ) from error
        except (ssl.SSLError, ssl.CertificateError) as error:
            raise SmtpTlsError(
                f"TLS with the SMTP server failed: {error}", context=where
            ) from error
        except TimeoutError as error:
            raise SmtpTimeout("The SMTP server did not answer in time.", context=where) from error
        except (OSError, smtplib.SMTPException) as error:
            raise SmtpConnectFailed(
                f"Could not connect to the SMTP server: {error}", context=where
            ) from error


def _remaining(deadline: Deadline) -> float:
    remaining = deadline.remaining()
    if remaining <= 0:
        raise SmtpTimeout("The time budget for this send ran out before the SMTP server answered.")
    return remaining


def _bound(client: smtplib.SMTP, deadline: Deadline) -> None:
    """smtplib takes one timeout per socket operation; shrink it to what the deadline leaves."""
    remaining = _remaining(deadline)
    if client.sock is not None:
        client.sock.settimeout(remaining)


def _close(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _reply_text(code: int, text: bytes | str) -> str:
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {decoded}".strip()
