"""Create a service, then send through it: STARTTLS, implicit TLS or plain; certificates checked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.api import call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Security

pytestmark = pytest.mark.usefixtures("aws")

CREDENTIALS = ("mailer@example.com", "correct horse battery staple")

StartServer = Callable[..., CaptureServer]


def _send(**body: object) -> tuple[int, dict[str, object]]:
    response = call_api(
        "POST",
        "/api/v2/email",
        {"to": "john@example.com", "subject": "Hello", "body_text": "Hi John", **body},
    )
    return response.status, response.body


@pytest.mark.parametrize(
    ("encryption", "security"),
    [("tls", Security.STARTTLS), ("ssl", Security.IMPLICIT)],
)
def test_send_over_tls_with_auth(
    smtp_server: StartServer, encryption: str, security: Security
) -> None:
    # A STARTTLS server that refuses MAIL before STARTTLS: the message cannot sneak out in clear.
    server = smtp_server(security, credentials=CREDENTIALS, require_starttls=True)
    username, password = CREDENTIALS
    create_service(
        {
            "host": "localhost" if encryption == "tls" else LOOPBACK,  # both names are in the cert
            "port": server.port,
            "encryption": encryption,
            "username": username,
            "password": password,
            "from_email": "noreply@example.com",
            "from_name": "Example App",
        }
    )

    status, body = _send()

    assert (status, body["count"]) == (200, 1), body
    received = server.only_message
    assert received.tls
    assert received.auth_login == username
    assert [(a.login, a.success, a.tls) for a in server.auth_attempts] == [(username, True, True)]
    assert received.mail_from == "noreply@example.com"
    assert received.rcpt_tos == ["john@example.com"]
    message = received.parsed()
    assert message["From"] == "Example App <noreply@example.com>"
    assert message["To"] == "john@example.com"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"] == body["message_id"]
    assert message.get_content().strip() == "Hi John"


def test_send_without_encryption(smtp_server: StartServer) -> None:
    server = smtp_server(Security.PLAIN)
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "noreply@example.com",
        }
    )

    status, body = _send()

    assert (status, body["count"]) == (200, 1), body
    received = server.only_message
    assert not received.tls
    assert received.auth_login is None
    assert received.rcpt_tos == ["john@example.com"]
    assert b"\r\nSubject: Hello\r\n" in received.data


@pytest.mark.parametrize(
    "encryption",
    [pytest.param({}, id="missing"), {"encryption": ""}, {"encryption": None}],
)
def test_dreamfactory_empty_encryption_means_starttls_when_offered(
    smtp_server: StartServer, encryption: dict[str, object]
) -> None:
    server = smtp_server(Security.STARTTLS, credentials=CREDENTIALS, require_starttls=True)
    username, password = CREDENTIALS
    created = create_service(
        {
            "host": "localhost",
            "port": server.port,
            "username": username,
            "password": password,
            "from_email": "a@example.com",
            **encryption,
        }
    )
    assert created["config"]["encryption"] == ""

    status, body = _send()

    assert (status, body["count"]) == (200, 1), body
    assert server.only_message.tls
    assert [(a.login, a.tls) for a in server.auth_attempts] == [(username, True)]


def test_dreamfactory_empty_encryption_means_plain_when_not_offered(
    smtp_server: StartServer,
) -> None:
    server = smtp_server(Security.PLAIN)
    created = create_service(
        {"host": LOOPBACK, "port": server.port, "encryption": "", "from_email": "a@example.com"}
    )
    assert created["config"]["encryption"] == ""

    status, body = _send()

    assert (status, body["count"]) == (200, 1), body
    assert not server.only_message.tls


def test_the_wire_carries_seven_bit_lines_of_at_most_998_octets(smtp_server: StartServer) -> None:
    server = smtp_server(Security.PLAIN)
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"})
    long_line = "Grüße " + "x" * 5000

    status, body = _send(
        from_email="sender@example.com",
        subject="Ünïcödé subject",
        body_text=long_line,
        body_html=f"<p>{long_line}</p>",
    )

    assert status == 200, body
    data = server.only_message.data
    assert all(byte < 0x80 for byte in data)
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    message = server.only_message.parsed()
    assert message["Subject"] == "Ünïcödé subject"
    plain = message.get_body(preferencelist=("plain",))
    assert plain is not None
    assert plain.get_content().rstrip("\n") == long_line
