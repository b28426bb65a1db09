"""AUTH as a strategy the SMTP session is given (`core.transport.smtp.authentication.Login`),
against a real server on loopback that checks the credentials."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass, field

import pytest

from core.network.tls import client_context
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Envelope
from core.transport.smtp import SmtpAuthFailed, SmtpEndpoint, SmtpTransport
from core.transport.smtp.authentication import PasswordLogin
from tests.support.smtp_servers import LOOPBACK, CaptureServer

ENVELOPE = Envelope("sender@example.com", ["john@example.com"])
MESSAGE = b"Subject: Hi\r\n\r\nHello.\r\n"


@dataclass
class RecordingLogin:
    """A `Login` of the test's own: a password login that notes each time it is asked."""

    inner: PasswordLogin
    calls: list[bool] = field(default_factory=list)
    needs_tls: bool = True

    def authenticate(self, client: smtplib.SMTP, *, tls: bool) -> None:
        self.calls.append(tls)
        self.inner.authenticate(client, tls=tls)


def _transport(port: int, login: RecordingLogin) -> SmtpTransport:
    # The endpoint names no credentials: the session has only the strategy to go by.
    return SmtpTransport(
        SmtpEndpoint(LOOPBACK, port, Encryption.NONE),
        tls=client_context(True),
        ehlo_name="client.example.com",
        login=login,
    )


def test_the_session_authenticates_with_the_login_it_is_given() -> None:
    login = RecordingLogin(PasswordLogin("mailer", "secret"))
    with CaptureServer(credentials=("mailer", "secret")) as server:
        delivery = _transport(server.port, login).send(MESSAGE, ENVELOPE, Deadline.after(5))

    assert delivery.accepted == ["john@example.com"]
    assert login.calls == [False]  # once, in clear text ('none' chosen explicitly)
    assert [(attempt.login, attempt.success) for attempt in server.auth_attempts] == [
        ("mailer", True)
    ]


def test_a_refusal_of_the_login_is_an_auth_failure() -> None:
    login = RecordingLogin(PasswordLogin("mailer", "wrong"))
    with (
        CaptureServer(credentials=("mailer", "secret")) as server,
        pytest.raises(SmtpAuthFailed) as raised,
    ):
        _transport(server.port, login).send(MESSAGE, ENVELOPE, Deadline.after(5))

    assert raised.value.context["stage"] == "auth"
    assert "wrong" not in raised.value.message
    assert server.messages == []
