"""DreamFactory's attachments by reference through the send call, against a real SMTP server
and a real HTTPS server on loopback: fetched and attached byte for byte when the operator
allows the address, refused (and nothing sent) for loopback and metadata targets by default,
base64 entries in `attachment` like `attachments`, and a template's files on every message."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from email.message import Message
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import Authorities, CaptureServer
from tests.support.web_servers import WebServer, serve_file

pytestmark = pytest.mark.usefixtures("aws")

PDF = b"%PDF-1.7\n\x00\x01\x02\xff binary \r\n.\r\n end"
Configure = Callable[..., None]


@pytest.fixture
def web(authorities: Authorities) -> Iterator[WebServer]:
    with WebServer(authority=authorities.trusted) as server:
        server.routes["/files/invoice%20A-1001.pdf"] = serve_file(PDF, "application/pdf")
        yield server


@pytest.fixture
def allow_loopback_fetches(configure: Configure, authorities: Authorities) -> None:
    """The explicit test setting: the test's own HTTPS server, on loopback, may be fetched."""
    configure(
        ATTACHMENT_FETCH_ALLOW_LOOPBACK="true",
        ATTACHMENT_FETCH_CA_FILE=str(authorities.trusted.bundle),
        ATTACHMENT_FETCH_TIMEOUT_SECONDS="3",
    )


def _send(**body: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi", **body})


def _attachments(server: CaptureServer) -> list[tuple[str | None, str, bytes]]:
    parsed = server.only_message.parsed()
    return [
        (part.get_filename(), part.get_content_type(), _bytes(part))
        for part in parsed.iter_attachments()
    ]


def _bytes(part: Message) -> bytes:
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return content


@pytest.mark.usefixtures("allow_loopback_fetches")
@pytest.mark.parametrize("field", ["attachment", "import_url"])
def test_a_url_is_fetched_and_attached_byte_for_byte(
    server: CaptureServer, web: WebServer, field: str
) -> None:
    url = web.url("/files/invoice%20A-1001.pdf?signature=secret")

    answer = _send(**{field: url})

    assert answer.status == 200, answer.body
    assert _attachments(server) == [("invoice A-1001.pdf", "application/pdf", PDF)]
    assert [arrival.target for arrival in web.arrivals] == [
        "/files/invoice%20A-1001.pdf?signature=secret"
    ]


@pytest.mark.usefixtures("allow_loopback_fetches")
def test_a_queued_message_carries_what_was_fetched(
    server: CaptureServer, web: WebServer, send_queue: Any
) -> None:
    url = web.url("/files/invoice%20A-1001.pdf")

    answer = call_api(
        "POST",
        "/api/v2/email",
        {"to": "john@example.com", "body_text": "Hi", "attachment": url},
        query="async=true",
    )
    send_queue.drain()

    assert answer.status == 202, answer.body
    assert _attachments(server) == [("invoice A-1001.pdf", "application/pdf", PDF)]
    assert len(web.arrivals) == 1  # fetched once, when the API accepted it


def test_loopback_is_refused_by_default_and_nothing_is_sent(
    server: CaptureServer, web: WebServer
) -> None:
    answer = _send(attachment=web.url("/files/invoice%20A-1001.pdf?token=secret"))

    assert (answer.status, answer.reason) == (400, "attachment_destination_forbidden")
    assert answer.body["error"]["context"]["field"] == "attachment"
    assert "secret" not in str(answer.body)
    assert web.arrivals == []
    assert server.sessions == 0


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://2852039166/latest/meta-data/",  # 169.254.169.254, spelt as one number
    ],
)
@pytest.mark.usefixtures("allow_loopback_fetches")
def test_metadata_targets_are_refused_even_when_loopback_is_allowed(
    server: CaptureServer, url: str
) -> None:
    answer = _send(import_url=url)

    assert (answer.status, answer.reason) == (400, "attachment_destination_forbidden")
    assert server.sessions == 0


def test_http_is_refused_unless_the_operator_allows_it(server: CaptureServer) -> None:
    answer = _send(attachment="http://files.example.com/a.pdf")

    assert (answer.status, answer.reason) == (400, "attachment_scheme_forbidden")
    assert server.sessions == 0


def test_a_base64_entry_in_attachment_works_like_attachments(server: CaptureServer) -> None:
    entry = {
        "name": "notes.txt",
        "content": base64.b64encode(b"hello").decode(),
        "content_type": "text/plain",
    }

    answer = _send(attachment=[entry])

    assert answer.status == 200, answer.body
    assert _attachments(server) == [("notes.txt", "text/plain", b"hello")]


def test_what_cannot_be_honoured_is_a_400_naming_the_field(server: CaptureServer) -> None:
    answer = _send(attachment={"service": "files", "path": "/reports/a.pdf"})

    assert answer.status == 400
    assert answer.body["error"]["context"]["field"].startswith("attachment")
    assert server.sessions == 0


@pytest.mark.usefixtures("allow_loopback_fetches")
def test_a_templates_attachment_goes_with_every_message(smtp_server: Any, web: WebServer) -> None:
    server: CaptureServer = smtp_server()
    create_plain_service(server.port)
    created = call_api(
        "POST",
        "/api/v2/system/email_template",
        {
            "name": "invoice",
            "subject": "Your invoice",
            "body_text": "Attached.",
            "attachment": web.url("/files/invoice%20A-1001.pdf"),
        },
    )
    assert created.status == 201, created.body

    for recipient in ("john@example.com", "jane@example.com"):
        answer = call_api("POST", "/api/v2/email", {"template": "invoice", "to": recipient})
        assert answer.status == 200, answer.body

    assert [
        [(p.get_filename(), _bytes(p)) for p in m.parsed().iter_attachments()]
        for m in server.messages
    ] == [[("invoice A-1001.pdf", PDF)]] * 2


@pytest.mark.usefixtures("allow_loopback_fetches")
def test_a_url_with_a_content_id_is_fetched_as_an_inline_part(
    server: CaptureServer, web: WebServer
) -> None:
    web.routes["/logo.png"] = serve_file(b"\x89PNG logo", "image/png")

    answer = _send(
        body_html='<img src="cid:logo">',
        attachment=[{"url": web.url("/logo.png"), "content_id": "logo"}],
    )

    assert answer.status == 200, answer.body
    parsed = server.only_message.parsed()
    assert parsed.get_content_type() == "multipart/related"
    [image] = [part for part in parsed.walk() if part.get_content_disposition() == "inline"]
    assert (str(image["Content-ID"]), image.get_filename(), _bytes(image)) == (
        "<logo>",
        "logo.png",
        b"\x89PNG logo",
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"url": "https://example.com/logo.png", "content_id": "<logo>"}, "invalid_content_id"),
        ({"url": "https://example.com/logo.png", "name": "x"}, "invalid_attachment_reference"),
        ({"url": 42}, "invalid_attachment_reference"),
        (
            {"url": "ftp://example.com/logo.png", "content_id": "logo"},
            "attachment_scheme_forbidden",
        ),
        ({"url": "https://example.com/logo.png"}, "invalid_attachment_reference"),
    ],
    ids=["brackets", "unknown-key", "not-a-string", "ftp", "no-content-id"],
)
def test_a_bad_url_entry_is_refused_before_anything_is_fetched(
    server: CaptureServer, entry: dict[str, Any], reason: str
) -> None:
    answer = _send(body_html='<img src="cid:logo">', import_url=[entry])

    assert (answer.status, answer.reason) == (400, reason), answer.body
    assert server.sessions == 0
