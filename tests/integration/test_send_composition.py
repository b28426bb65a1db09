"""Composition beyond DreamFactory (issue 21), sent through the API handler to a real SMTP
server on loopback: the caller's own `headers`, one-click `list_unsubscribe`, and inline
images (`content_id`) in a `multipart/related`. What is asserted is what arrived: the raw
header bytes (no injection through any encoding), the parsed MIME tree; and for every refusal,
a 400 naming the field with no SMTP session at all."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage, MIMEPart
from typing import Any

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_plain_service, create_service
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

MESSAGE = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake image"
LOGO = {
    "name": "logo.png",
    "content": base64.b64encode(PNG).decode(),
    "content_type": "image/png",
    "content_id": "logo@example.com",
}
PDF = {"name": "terms.pdf", "content": base64.b64encode(b"%PDF-1.4").decode()}
HTML = '<p>Hello</p><img src="cid:logo@example.com" alt="Logo">'


@pytest.fixture
def refusing(smtp_server: Callable[..., CaptureServer]) -> Iterator[CaptureServer]:
    """A server behind the service that no refused request may reach."""
    server = smtp_server()
    create_plain_service(server.port)
    yield server
    assert server.sessions == 0, "a refused request must not reach the SMTP server"


def _send(body: dict[str, Any], **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body, **options)


def _header_section(server: CaptureServer) -> bytes:
    data = server.only_message.data
    return data[: data.index(b"\r\n\r\n") + 2]


def _children(part: MIMEPart) -> list[MIMEPart]:
    return list(part.iter_parts())


def _tree(part: MIMEPart) -> Any:
    """The MIME tree as nested (content type, children) / content type."""
    if part.is_multipart():
        return (part.get_content_type(), [_tree(child) for child in _children(part)])
    return part.get_content_type()


# --- headers ----------------------------------------------------------------------------------


def test_custom_headers_arrive_as_written(server: CaptureServer) -> None:
    headers = {
        "X-Campaign": "spring-sale",
        "In-Reply-To": "<173.9b2f6c1e@example.com>",
        "X-Long": " ".join(["word"] * 30),
    }

    response = _send({**MESSAGE, "headers": headers})

    assert response.status == 200, response.body
    section = _header_section(server)
    assert b"\r\nX-Campaign: spring-sale\r\n" in section
    assert b"\r\nIn-Reply-To: <173.9b2f6c1e@example.com>\r\n" in section
    # A long plain value is folded at its spaces, never encoded: it unfolds to what was given.
    assert b"=?" not in section
    parsed = server.only_message.parsed()
    assert {name: str(parsed[name]) for name in headers} == headers


def test_placeholders_in_header_values_are_filled_in(server: CaptureServer) -> None:
    response = _send(
        {**MESSAGE, "headers": {"X-Order": "order-{order}"}, "template_data": {"order": "A-1"}}
    )

    assert response.status == 200, response.body
    assert b"\r\nX-Order: order-A-1\r\n" in _header_section(server)


@pytest.mark.parametrize(
    "value",
    [
        "Grüße aus Köln",
        # Looks like an encoded word that decodes to a line break and a Bcc: shown as written.
        "=?utf-8?q?x=0D=0ABcc:_victim@example.com?=",
        "=?utf-8?b?eA0KQmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=",
    ],
    ids=["non-ascii", "q-encoded-word", "b-encoded-word"],
)
def test_a_value_that_is_not_plain_ascii_is_encoded_and_reads_back_literally(
    server: CaptureServer, value: str
) -> None:
    response = _send({**MESSAGE, "headers": {"X-Note": value}})

    assert response.status == 200, response.body
    section = _header_section(server)
    assert section.isascii()
    assert b"\r\nX-Note: =?utf-8?b?" in section
    assert b"Bcc" not in section
    assert b"victim" not in section
    parsed = server.only_message.parsed()
    assert str(parsed["X-Note"]) == value
    assert parsed["Bcc"] is None
    assert server.only_message.rcpt_tos == ["john@example.com"]


@pytest.mark.parametrize(
    "name",
    [
        "From",
        "sender",
        "TO",
        "Cc",
        "bcc",
        "Reply-To",
        "Return-Path",
        "Subject",
        "Content-Type",
        "content-transfer-encoding",
        "MIME-Version",
        "DKIM-Signature",
        "Received",
        "Message-ID",
        "Date",
        "Resent-To",
        "ARC-Seal",
        "X-SES-SOURCE-ARN",
        "List-Unsubscribe",
        "list-unsubscribe-post",
    ],
)
def test_headers_that_change_routing_identity_or_structure_are_refused(
    refusing: CaptureServer, name: str
) -> None:
    response = _send({**MESSAGE, "headers": {name: "x@example.com"}})

    assert (response.status, response.reason) == (400, "header_not_allowed"), response.body
    assert f"'{name}'" in response.body["error"]["message"]
    assert response.body["error"]["context"]["header"] == name


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a\r\nBcc: victim@example.com", "header_injection"),
        ("a\nBcc: victim@example.com", "header_injection"),
        ("a\rBcc: victim@example.com", "header_injection"),
        ("a\u2028Bcc: victim@example.com", "header_injection"),
        ("a\x85Bcc: victim@example.com", "header_injection"),
        ("a\x07b", "invalid_character"),
    ],
    ids=["crlf", "lf", "cr", "u2028", "nel", "bell"],
)
def test_a_value_with_a_line_break_or_control_is_refused(
    refusing: CaptureServer, value: str, reason: str
) -> None:
    response = _send({**MESSAGE, "headers": {"X-Note": value}})

    assert (response.status, response.reason) == (400, reason), response.body
    assert response.body["error"]["context"]["header"] == "X-Note"


def test_a_line_break_a_placeholder_brings_into_a_header_is_refused(
    refusing: CaptureServer,
) -> None:
    response = _send(
        {
            **MESSAGE,
            "headers": {"X-Order": "{order}"},
            "template_data": {"order": "1\r\nBcc: victim@example.com"},
        }
    )

    assert (response.status, response.reason) == (400, "header_injection"), response.body


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Tag": "a", "x-tag": "b"}, "duplicate_header"),
        ({"X Tag": "a"}, "invalid_header_name"),
        ({"X-Tag:": "a"}, "invalid_header_name"),
        ({"X-Tág": "a"}, "invalid_header_name"),
        ({"": "a"}, "invalid_header_name"),
        ({"X-" + "a" * 80: "a"}, "invalid_header_name"),
        ({f"X-H{index}": "a" for index in range(21)}, "too_many_headers"),
        ({"X-Tag": "a" * 901}, "header_too_long"),
        ({"X-Tag": 1}, "invalid_header"),
        ("X-Tag: a", "invalid_header"),
    ],
    ids=[
        "duplicate",
        "space",
        "colon",
        "non-ascii-name",
        "empty-name",
        "long-name",
        "too-many",
        "long-value",
        "number",
        "not-an-object",
    ],
)
def test_malformed_headers_are_refused(refusing: CaptureServer, headers: Any, reason: str) -> None:
    response = _send({**MESSAGE, "headers": headers})

    assert (response.status, response.reason) == (400, reason), response.body


# --- one-click unsubscribe --------------------------------------------------------------------


def test_an_https_url_and_a_mailto_make_a_one_click_unsubscribe(server: CaptureServer) -> None:
    response = _send(
        {
            **MESSAGE,
            "list_unsubscribe": [
                "https://example.com/unsubscribe?u={user}",
                "mailto:unsubscribe@example.com?subject=unsubscribe",
            ],
            "template_data": {"user": "u-42"},
        }
    )

    assert response.status == 200, response.body
    section = _header_section(server)
    # Over 78 characters, so folded between its entries (and nowhere else).
    assert (
        b"\r\nList-Unsubscribe: <https://example.com/unsubscribe?u=u-42>,\r\n"
        b" <mailto:unsubscribe@example.com?subject=unsubscribe>\r\n" in section
    )
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in section


@pytest.mark.parametrize(
    "given", ["mailto:unsubscribe@example.com", "http://example.com/unsubscribe"]
)
def test_without_an_https_url_there_is_no_one_click_field(
    server: CaptureServer, given: str
) -> None:
    response = _send({**MESSAGE, "list_unsubscribe": given})

    assert response.status == 200, response.body
    section = _header_section(server)
    assert f"\r\nList-Unsubscribe: <{given}>\r\n".encode() in section
    assert b"List-Unsubscribe-Post" not in section


def test_a_long_unsubscribe_list_is_folded_between_its_entries(server: CaptureServer) -> None:
    url = "https://example.com/unsubscribe?token=" + "a" * 200

    response = _send({**MESSAGE, "list_unsubscribe": [url, "mailto:u@example.com"]})

    assert response.status == 200, response.body
    section = _header_section(server)
    assert f"\r\nList-Unsubscribe: <{url}>,\r\n <mailto:u@example.com>\r\n".encode() in section


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("javascript:alert(1)", "invalid_list_unsubscribe"),
        ("ftp://example.com/u", "invalid_list_unsubscribe"),
        ("https://example.com/a b", "invalid_list_unsubscribe"),
        ("<https://example.com/u>", "invalid_list_unsubscribe"),
        ("https://user:secret@example.com/u", "invalid_list_unsubscribe"),
        ("https:///nohost", "invalid_list_unsubscribe"),
        (["https://a.example.com/u", "https://b.example.com/u"], "invalid_list_unsubscribe"),
        (["mailto:a@example.com", "mailto:b@example.com"], "invalid_list_unsubscribe"),
        (["https://a.example.com/u", "mailto:a@example.com", "http://x.example/"], None),
        ("mailto:not-an-address", "invalid_address"),
        ("mailto:a%0d%0aBcc:victim@example.com", "header_injection"),
        ("https://example.com/u\r\nBcc: victim@example.com", "header_injection"),
        ("https://example.com/" + "a" * 900, "invalid_list_unsubscribe"),
        (42, "invalid_list_unsubscribe"),
    ],
    ids=[
        "javascript",
        "ftp",
        "space",
        "brackets",
        "userinfo",
        "no-host",
        "two-urls",
        "two-mailtos",
        "three",
        "bad-mailto",
        "encoded-crlf-mailto",
        "crlf",
        "too-long",
        "number",
    ],
)
def test_a_bad_unsubscribe_entry_is_refused(
    refusing: CaptureServer, given: Any, reason: str | None
) -> None:
    response = _send({**MESSAGE, "list_unsubscribe": given})

    assert response.status == 400, response.body
    assert response.reason == (reason or "invalid_list_unsubscribe")
    assert response.body["error"]["context"]["field"] == "list_unsubscribe"


# --- inline images ----------------------------------------------------------------------------


def test_inline_images_are_related_to_the_bodies_and_files_stay_outside(
    server: CaptureServer,
) -> None:
    response = _send({**MESSAGE, "body_html": HTML, "attachments": [PDF, LOGO]})

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    assert _tree(parsed) == (
        "multipart/mixed",
        [
            (
                "multipart/related",
                [("multipart/alternative", ["text/plain", "text/html"]), "image/png"],
            ),
            "application/octet-stream",
        ],
    )
    related = _children(parsed)[0]
    assert related.get_param("type") == "multipart/alternative"
    image = _children(related)[1]
    assert str(image["Content-ID"]) == "<logo@example.com>"
    assert image.get_content_disposition() == "inline"
    assert image.get_filename() == "logo.png"
    assert image.get_payload(decode=True) == PNG
    assert b"\r\nContent-ID: <logo@example.com>\r\n" in server.only_message.data
    body = parsed.get_body(preferencelist=("html",))
    assert body is not None
    assert body.get_content().strip() == HTML


def test_an_html_only_message_with_an_image_is_related_alone(server: CaptureServer) -> None:
    body = {"to": "john@example.com", "subject": "Hi", "body_html": HTML, "attachments": [LOGO]}

    response = _send(body)

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    assert _tree(parsed) == ("multipart/related", ["text/html", "image/png"])
    assert parsed.get_param("type") == "text/html"


def test_dreamfactorys_attachment_field_takes_a_content_id_too(server: CaptureServer) -> None:
    response = _send({**MESSAGE, "body_html": HTML, "attachment": [LOGO]})

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    [image] = [part for part in parsed.walk() if part.get_content_type() == "image/png"]
    assert str(image["Content-ID"]) == "<logo@example.com>"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**MESSAGE, "attachments": [LOGO]}, "inline_without_html"),
        (
            {**MESSAGE, "body_html": HTML, "attachments": [LOGO, {**LOGO, "name": "b.png"}]},
            "duplicate_content_id",
        ),
        ({**MESSAGE, "body_html": '<img src="cid:missing">', "attachments": [LOGO]}, None),
        ({**MESSAGE, "body_html": '<img src="cid:missing">'}, "unknown_content_id"),
        (
            {**MESSAGE, "body_html": HTML, "attachments": [{**LOGO, "content_id": "<logo>"}]},
            "invalid_content_id",
        ),
        (
            {**MESSAGE, "body_html": HTML, "attachments": [{**LOGO, "content_id": "a b"}]},
            "invalid_content_id",
        ),
        (
            {**MESSAGE, "body_html": HTML, "attachments": [{**LOGO, "content_id": "=?x?="}]},
            "invalid_content_id",
        ),
        (
            {
                **MESSAGE,
                "body_html": HTML,
                "attachments": [{**LOGO, "content_id": "logo\r\nBcc: victim@example.com"}],
            },
            "header_injection",
        ),
        (
            {
                **MESSAGE,
                "body_html": HTML,
                "attachments": [{**PDF, "disposition": "inline"}, LOGO],
            },
            "invalid_attachment",
        ),
        (
            {**MESSAGE, "body_html": HTML, "attachments": [{**LOGO, "disposition": "attachment"}]},
            "invalid_attachment",
        ),
    ],
    ids=[
        "text-only",
        "duplicate-id",
        "unknown-cid-beside-a-part",
        "unknown-cid",
        "brackets",
        "space",
        "encoded-word",
        "crlf",
        "inline-without-id",
        "attachment-with-id",
    ],
)
def test_inline_parts_that_cannot_be_shown_are_refused(
    refusing: CaptureServer, body: dict[str, Any], reason: str | None
) -> None:
    response = _send(body)

    assert (response.status, response.reason) == (400, reason or "unknown_content_id"), (
        response.body
    )


def test_an_empty_content_id_is_no_content_id(server: CaptureServer) -> None:
    """Found by the contract fuzzer (a 500 then): `"content_id": ""` reads as none, so the file
    is an ordinary attachment."""
    response = _send({**MESSAGE, "attachments": [{**PDF, "content_id": ""}]})

    assert response.status == 200, response.body
    [part] = list(server.only_message.parsed().iter_attachments())
    assert part.get_filename() == "terms.pdf"
    assert part["Content-ID"] is None


def test_a_stored_template_with_a_null_content_id_and_no_content_is_a_400() -> None:
    """Found by the contract fuzzer (a 500 then)."""
    entry = {"name": "logo.png", "content_id": None, "content_type": None, "disposition": None}

    response = call_api(
        "POST",
        "/api/v2/system/email_template",
        {"name": "with_logo", "subject": "s", "body_text": "b", "attachment": [entry]},
    )

    assert (response.status, response.reason) == (400, "invalid_request"), response.body


# --- seen before sending, and sent later ------------------------------------------------------


def test_the_preview_shows_the_fields_and_the_inline_part(refusing: CaptureServer) -> None:
    body = {
        **MESSAGE,
        "body_html": HTML,
        "attachments": [LOGO],
        "headers": {"X-Campaign": "spring"},
        "list_unsubscribe": "https://example.com/u",
    }

    response = call_api("POST", "/api/v2/email/preview", body)

    assert response.status == 200, response.body
    headers = dict(response.body["headers"])
    assert headers["X-Campaign"] == "spring"
    assert headers["List-Unsubscribe"] == "<https://example.com/u>"
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert response.body["attachments"] == [
        {
            "name": "logo.png",
            "content_type": "image/png",
            "size": len(PNG),
            "content_id": "logo@example.com",
        }
    ]
    assert response.body["body_html"].strip() == HTML


def test_a_queued_message_keeps_its_fields_and_inline_parts(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    body = {
        **MESSAGE,
        "body_html": HTML,
        "attachments": [LOGO],
        "headers": {"X-Campaign": "spring"},
        "list_unsubscribe": "https://example.com/u",
    }

    answer = _send(body, query="async=true")
    send_queue.drain()

    assert answer.status == 202, answer.body
    parsed = server.only_message.parsed()
    assert str(parsed["X-Campaign"]) == "spring"
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    [image] = [part for part in parsed.walk() if part.get_content_type() == "image/png"]
    assert str(image["Content-ID"]) == "<logo@example.com>"


# --- through the SES API ----------------------------------------------------------------------


def test_ses_sends_the_fields_and_the_inline_parts_as_built(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `type: ses` service hands SES the sealed bytes (`Content.Raw`), so every field and
    part goes as it does over SMTP; SES takes raw messages with any RFC 5322 field, and the
    X-SES-* fields it would read as orders are refused above."""
    with SesEndpoint() as ses:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", ses.url)
        create_service({"region": "eu-west-1", "from_email": "noreply@example.com"}, type="ses")
        ses.answer(Accept(message_id="0100018c-composed-000001"))

        response = _send(
            {
                **MESSAGE,
                "body_html": HTML,
                "attachments": [LOGO],
                "headers": {"X-Campaign": "spring"},
                "list_unsubscribe": "https://example.com/u",
            }
        )

        assert response.status == 200, response.body
        [request] = ses.sent()
    raw = base64.b64decode(request["Content"]["Raw"]["Data"])
    assert b"\r\nX-Campaign: spring\r\n" in raw
    assert b"\r\nList-Unsubscribe: <https://example.com/u>\r\n" in raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert _tree(parsed) == (
        "multipart/related",
        [("multipart/alternative", ["text/plain", "text/html"]), "image/png"],
    )


# --- from a stored template -------------------------------------------------------------------


NEWSLETTER = {
    "name": "newsletter",
    "subject": "News",
    "body_html": HTML,
    "headers": {"X-Campaign": "news-{issue}"},
    "list_unsubscribe": ["https://example.com/u?t={token}", "mailto:unsub@example.com"],
    "attachment": [LOGO],
}


def test_a_template_brings_its_fields_and_inline_image_and_a_key_limited_to_it_its_values(
    server: CaptureServer,
) -> None:
    created = call_api("POST", "/api/v2/system/email_template", NEWSLETTER)
    assert created.status == 201, created.body
    create_role("newsletters", services=["email"], senders=["*"], templates=["newsletter"])
    key = create_key("newsletters").token

    response = _send(
        {
            "template": "newsletter",
            "to": "john@example.com",
            "template_data": {"issue": "7", "token": "t-42"},
        },
        api_key=key,
    )

    assert response.status == 200, response.body
    parsed = server.only_message.parsed()
    assert str(parsed["X-Campaign"]) == "news-7"
    assert str(parsed["List-Unsubscribe"]) == (
        "<https://example.com/u?t=t-42>, <mailto:unsub@example.com>"
    )
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert _tree(parsed) == ("multipart/related", ["text/html", "image/png"])


@pytest.mark.parametrize(
    ("field", "value"),
    [("headers", {"X-Campaign": "x"}), ("list_unsubscribe", "https://example.com/u")],
)
def test_a_key_limited_to_templates_may_not_give_its_own_fields(
    refusing: CaptureServer, field: str, value: Any
) -> None:
    call_api("POST", "/api/v2/system/email_template", NEWSLETTER)
    create_role("newsletters", services=["email"], senders=["*"], templates=["newsletter"])
    key = create_key("newsletters").token

    response = _send(
        {"template": "newsletter", "to": "john@example.com", field: value}, api_key=key
    )

    assert (response.status, response.reason) == (403, "template_content_locked"), response.body


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("headers", {"Bcc": "x@example.com"}, "header_not_allowed"),
        ("headers", {"X-Note": "a\r\nBcc: x@example.com"}, "header_injection"),
        ("list_unsubscribe", 42, "invalid_list_unsubscribe"),
        ("list_unsubscribe", "javascript:alert({x})", "invalid_list_unsubscribe"),
        ("attachment", [{**LOGO, "content_id": "<logo>"}], "invalid_content_id"),
    ],
)
def test_a_template_with_fields_a_send_would_refuse_is_not_stored(
    refusing: CaptureServer, field: str, value: Any, reason: str
) -> None:
    response = call_api("POST", "/api/v2/system/email_template", {"name": "bad", field: value})

    assert (response.status, response.reason) == (400, reason), response.body
