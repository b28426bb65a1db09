"""Every way the SMTP side can fail, each against a server really behaving that way.

Each case checks the status and `error.reason` a client branches on, and that nothing was
delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import (
    LOOPBACK,
    Authorities,
    CaptureServer,
    ClosedPort,
    Replies,
    Security,
    SilentServer,
)

pytestmark = pytest.mark.usefixtures("aws")

StartServer = Callable[..., CaptureServer]
USER, PASSWORD = "mailer", "the-right-password"


def _service(port: int, encryption: str = "none", **config: Any) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": port,
            "encryption": encryption,
            "from_email": "noreply@example.com",
            **config,
        }
    )


def _send(**body: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi", **body})


def _assert_error(response: ApiResponse, status: int, reason: str) -> dict[str, Any]:
    assert (response.status, response.reason) == (status, reason), response.body
    error: dict[str, Any] = response.body["error"]
    assert error["code"] == status
    return error


# --- authentication -----------------------------------------------------------------------------


def test_wrong_password(smtp_server: StartServer) -> None:
    server = smtp_server(Security.STARTTLS, credentials=(USER, PASSWORD))
    _service(server.port, "tls", username=USER, password="not-the-password")

    error = _assert_error(_send(), 502, "smtp_auth_failed")

    assert "535" in error["message"]
    assert server.auth_attempts
    assert not any(attempt.success for attempt in server.auth_attempts)
    assert server.messages == []


# --- reaching the server ------------------------------------------------------------------------


def test_nothing_listening(closed_port: ClosedPort) -> None:
    _service(closed_port.port)

    error = _assert_error(_send(), 502, "smtp_connect_failed")

    assert error["context"] == {"host": LOOPBACK, "port": closed_port.port}


def test_server_that_never_greets(silent_server: SilentServer, configure: Any) -> None:
    configure(SMTP_TIMEOUT_SECONDS="0.5")
    _service(silent_server.port)

    started = time.monotonic()
    _assert_error(_send(), 504, "smtp_timeout")

    assert time.monotonic() - started < 10  # bounded (a silent server would hold us forever)
    # The kernel completes the handshake before the server's thread accepts; on a busy machine
    # that thread may record the connection only after the client has given up.
    deadline = time.monotonic() + 5
    while not silent_server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(silent_server.connections) == 1
    assert silent_server.received() == b""


def test_the_lambdas_remaining_time_bounds_the_wait(
    silent_server: SilentServer, configure: Any
) -> None:
    # The SMTP budget alone would outlive this Lambda; the answer must come before it dies.
    configure(SMTP_TIMEOUT_SECONDS="60")
    _service(silent_server.port)

    started = time.monotonic()
    response = call_api(
        "POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"}, timeout_seconds=2
    )

    _assert_error(response, 504, "smtp_timeout")
    assert time.monotonic() - started < 10  # the Lambda's 2 s, not the SMTP budget's 60 s


# --- TLS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encryption", "security"), [("tls", Security.STARTTLS), ("ssl", Security.IMPLICIT)]
)
def test_untrusted_certificate(
    smtp_server: StartServer, authorities: Authorities, encryption: str, security: Security
) -> None:
    server = smtp_server(security, authority=authorities.untrusted, credentials=(USER, PASSWORD))
    _service(server.port, encryption, username=USER, password=PASSWORD)

    error = _assert_error(_send(), 502, "smtp_tls_error")

    assert "certificate verify failed" in error["message"]
    assert server.auth_attempts == []
    assert server.messages == []


@pytest.mark.parametrize(
    ("encryption", "security"), [("tls", Security.STARTTLS), ("ssl", Security.IMPLICIT)]
)
def test_untrusted_certificate_accepted_when_verification_is_off(
    smtp_server: StartServer, authorities: Authorities, encryption: str, security: Security
) -> None:
    server = smtp_server(security, authority=authorities.untrusted, credentials=(USER, PASSWORD))
    _service(server.port, encryption, username=USER, password=PASSWORD, verify_tls=False)

    response = _send()

    assert (response.status, response.body["count"]) == (200, 1), response.body
    assert server.only_message.tls
    assert server.only_message.auth_login == USER


def test_certificate_for_another_host(smtp_server: StartServer, authorities: Authorities) -> None:
    # Signed by the trusted CA, but for a name we are not connecting to.
    other_host = authorities.trusted.issued_for("mail.example.net")
    server = smtp_server(Security.IMPLICIT, authority=other_host)
    _service(server.port, "ssl")

    error = _assert_error(_send(), 502, "smtp_tls_error")

    assert "127.0.0.1" in error["message"]
    assert server.messages == []


def test_starttls_required_but_not_offered(smtp_server: StartServer) -> None:
    # This server offers AUTH in clear text and would take the message without TLS.
    server = smtp_server(Security.PLAIN, credentials=(USER, PASSWORD))
    _service(server.port, "tls", username=USER, password=PASSWORD)

    error = _assert_error(_send(), 502, "smtp_tls_error")

    assert "STARTTLS" in error["message"]
    assert server.sessions == 1
    assert server.auth_attempts == []
    assert server.messages == []


# --- the server's verdict on the message --------------------------------------------------------


def test_sender_refused(smtp_server: StartServer) -> None:
    server = smtp_server(replies=Replies(mail_from="553 5.7.1 Sender address rejected"))
    _service(server.port)

    error = _assert_error(_send(), 502, "smtp_rejected")

    assert "553 5.7.1 Sender address rejected" in error["message"]
    assert server.messages == []


def test_every_recipient_refused(smtp_server: StartServer) -> None:
    server = smtp_server(replies=Replies(every_rcpt="550 5.1.1 No such user here"))
    _service(server.port)

    error = _assert_error(_send(cc="jane@example.com"), 502, "smtp_rejected")

    assert error["context"]["refused"] == {
        "john@example.com": "550 5.1.1 No such user here",
        "jane@example.com": "550 5.1.1 No such user here",
    }
    assert server.messages == []


def test_message_refused_at_data(smtp_server: StartServer) -> None:
    server = smtp_server(replies=Replies(data="554 5.6.0 Message content rejected"))
    _service(server.port)

    error = _assert_error(_send(), 502, "smtp_rejected")

    assert "554 5.6.0 Message content rejected" in error["message"]
    assert error["context"]["smtp_code"] == 554
    assert server.messages == []


def test_some_recipients_refused(smtp_server: StartServer) -> None:
    server = smtp_server(replies=Replies(rcpt={"gone@example.com": "550 5.1.1 Mailbox gone"}))
    _service(server.port)

    response = _send(to=["john@example.com", "gone@example.com"], bcc="audit@example.com")

    assert response.status == 200, response.body
    assert response.body["count"] == 2
    assert response.body["refused"] == {"gone@example.com": "550 5.1.1 Mailbox gone"}
    assert server.only_message.rcpt_tos == ["john@example.com", "audit@example.com"]
