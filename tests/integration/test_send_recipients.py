"""Who gets the message: recipient forms, the envelope, and bcc kept out of every header."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server()
    create_plain_service(
        server.port,
        from_name="Example App",
        reply_to_email="support@example.com",
        reply_to_name="Support",
    )
    return server


def _send(**body: Any) -> dict[str, Any]:
    response = call_api("POST", "/api/v2/email", {"subject": "Hi", "body_text": "Hello", **body})
    assert response.status == 200, response.body
    result: dict[str, Any] = response.body
    return result


def test_bcc_is_in_the_envelope_and_in_no_header(server: CaptureServer) -> None:
    result = _send(to="john@example.com", bcc=["secret@example.com", "hidden@example.com"])

    assert result["count"] == 3
    received = server.only_message
    assert received.rcpt_tos == ["john@example.com", "secret@example.com", "hidden@example.com"]
    headers = received.data.split(b"\r\n\r\n", 1)[0]
    assert b"secret@example.com" not in received.data
    assert b"hidden@example.com" not in received.data
    assert b"bcc" not in headers.lower()


def test_envelope_is_to_cc_bcc_without_duplicates(server: CaptureServer) -> None:
    result = _send(
        to=["john@example.com", "jane@example.com"],
        cc=["jane@example.com", "boss@example.com"],
        bcc=["john@example.com", "audit@example.com"],
    )

    assert result["count"] == 4
    assert server.only_message.rcpt_tos == [
        "john@example.com",
        "jane@example.com",
        "boss@example.com",
        "audit@example.com",
    ]
    message = server.only_message.parsed()
    assert message["To"] == "john@example.com, jane@example.com"
    assert message["Cc"] == "jane@example.com, boss@example.com"


@pytest.mark.parametrize(
    ("to", "header"),
    [
        pytest.param("john@example.com", "john@example.com", id="string"),
        pytest.param(
            ["john@example.com", "jane@example.com"],
            "john@example.com, jane@example.com",
            id="list-of-strings",
        ),
        pytest.param(
            {"email": "john@example.com", "name": "John Doe"},
            "John Doe <john@example.com>",
            id="obj",
        ),
        pytest.param(
            [{"email": "john@example.com", "name": "Doe, John"}, {"email": "jane@example.com"}],
            '"Doe, John" <john@example.com>, jane@example.com',
            id="list-of-objects",
        ),
    ],
)
def test_dreamfactory_recipient_forms(server: CaptureServer, to: Any, header: str) -> None:
    _send(to=to)

    assert server.only_message.parsed()["To"] == header


def test_sender_defaults_come_from_the_service(server: CaptureServer) -> None:
    _send(to="john@example.com")

    received = server.only_message
    message = received.parsed()
    assert received.mail_from == "noreply@example.com"
    assert message["From"] == "Example App <noreply@example.com>"
    assert message["Reply-To"] == "Support <support@example.com>"


def test_request_overrides_the_sender(server: CaptureServer) -> None:
    _send(
        to="john@example.com",
        from_email="billing@example.com",
        from_name="Billing",
        reply_to_email="accounts@example.com",
        reply_to_name="Accounts",
    )

    received = server.only_message
    message = received.parsed()
    assert received.mail_from == "billing@example.com"
    assert message["From"] == "Billing <billing@example.com>"
    assert message["Reply-To"] == "Accounts <accounts@example.com>"


def test_international_names_and_domains(server: CaptureServer) -> None:
    _send(to={"email": "juergen@bücher.example", "name": "Jürgen Groß"})

    received = server.only_message
    # No SMTPUTF8: the domain travels in its ASCII (IDNA) form, the name as an RFC 2047 word.
    assert received.rcpt_tos == ["juergen@xn--bcher-kva.example"]
    assert b"To: =?utf-8?" in received.data
    assert received.parsed()["To"] == "Jürgen Groß <juergen@xn--bcher-kva.example>"


def test_non_ascii_local_part_is_refused(server: CaptureServer) -> None:
    response = call_api("POST", "/api/v2/email", {"to": "jürgen@example.com", "body_text": "Hello"})

    assert (response.status, response.reason) == (400, "invalid_address"), response.body
    assert server.sessions == 0


def test_placeholders_and_attachment_arrive_as_sent(server: CaptureServer) -> None:
    payload = bytes(range(256)) * 4
    _send(
        to="john@example.com",
        subject="Order {order} for {name}",
        body_text="Dear {name}, order {order} ships {when}. {unknown} stays.",
        body_html="<p>Dear {name}</p><style>p { color: red }</style>",
        template_data={"name": "<Ann & Bob>", "order": 42},
        when="today",
        attachments=[
            {
                "name": "daten-übersicht.bin",
                "content": base64.encodebytes(payload).decode(),  # wrapped at 76 columns
                "content_type": "application/octet-stream",
            }
        ],
    )

    message = server.only_message.parsed()
    assert message["Subject"] == "Order 42 for <Ann & Bob>"
    assert message.get_content_type() == "multipart/mixed"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == "Dear <Ann & Bob>, order 42 ships today. {unknown} stays.\n"
    assert html.get_content() == (
        "<p>Dear &lt;Ann &amp; Bob&gt;</p><style>p { color: red }</style>\n"
    )
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "daten-übersicht.bin"
    assert attachment.get_content() == payload
