"""The MIME message: structure, encodings, and what never appears in it."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, MIMEPart
from typing import Any

import pytest

from core.addresses import Mailbox
from core.composition.mime import POLICY, build_message
from core.message import Attachment, Message

SENDER = Mailbox("noreply@example.com", "Example App")
JOHN = Mailbox("john@example.com", "John Doe")
MESSAGE_ID = "<20260302093015.1234.5678@example.com>"
DATE = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)

PDF = Attachment(
    name="report.pdf", content=b"%PDF-1.4\n\x00\xff binary", content_type="application/pdf"
)


def _message(**fields: Any) -> Message:
    defaults: dict[str, Any] = {
        "sender": SENDER,
        "to": [JOHN],
        "subject": "Hello",
        "body_text": "Hi John",
        "message_id": MESSAGE_ID,
        "date": DATE,
    }
    return Message.model_validate({**defaults, **fields})


def _wire(message: Message) -> bytes:
    return build_message(message).as_bytes(policy=POLICY)


def _parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(part: MIMEPart) -> str:
    # A base64 text body is encoded in canonical form, CRLF line breaks (RFC 2046, 4.1.1).
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _assert_transportable(raw: bytes) -> None:
    """7-bit, CRLF line endings, no line over RFC 5322's 998 octets."""
    assert all(byte < 0x80 for byte in raw)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


# --- structure --------------------------------------------------------------------------------


def test_text_only() -> None:
    message = _parsed(_wire(_message()))

    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hi John\n"


def test_html_only() -> None:
    message = _parsed(_wire(_message(body_text=None, body_html="<p>Hi</p>")))

    assert message.get_content_type() == "text/html"
    assert message.get_content() == "<p>Hi</p>\n"


def test_text_and_html_are_alternatives() -> None:
    message = _parsed(_wire(_message(body_html="<p>Hi John</p>")))

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]


def test_attachments_make_it_mixed() -> None:
    second = Attachment(name="notes.txt", content=b"line 1\nline 2\n", content_type="text/plain")

    message = _parsed(_wire(_message(body_html="<p>Hi</p>", attachments=[PDF, second])))

    assert message.get_content_type() == "multipart/mixed"
    body, *attachments = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("report.pdf", "application/pdf"),
        ("notes.txt", "text/plain"),
    ]
    assert [a.get_payload(decode=True) for a in attachments] == [PDF.content, second.content]
    assert all(a.get_content_disposition() == "attachment" for a in attachments)


def test_text_with_one_attachment() -> None:
    message = _parsed(_wire(_message(attachments=[PDF])))

    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.iter_parts()
    assert body.get_content() == "Hi John\n"
    assert attachment.get_content() == PDF.content


# --- headers ----------------------------------------------------------------------------------


def test_headers() -> None:
    outgoing = _message(
        cc=[Mailbox("jane@example.com")],
        reply_to=Mailbox("support@example.com", "Support"),
    )

    raw = _wire(outgoing)
    message = _parsed(raw)

    assert message["From"] == "Example App <noreply@example.com>"
    assert message["To"] == "John Doe <john@example.com>"
    assert message["Cc"] == "jane@example.com"
    assert message["Reply-To"] == "Support <support@example.com>"
    assert message["Subject"] == "Hello"
    assert message["MIME-Version"] == "1.0"
    assert message["Date"] == "Mon, 02 Mar 2026 09:30:15 +0000"
    assert message["Message-ID"] == MESSAGE_ID


def test_the_date_is_written_in_gmt_whatever_its_zone() -> None:
    cet = DATE.astimezone(timezone(timedelta(hours=1)))

    raw = _wire(_message(date=cet))

    assert b"\r\nDate: Mon, 02 Mar 2026 09:30:15 +0000\r\n" in raw


def test_no_bcc_header_and_no_empty_optional_headers() -> None:
    raw = _wire(_message(to=[], cc=[]))
    headers = raw.split(b"\r\n\r\n", 1)[0].lower()

    assert b"\r\nbcc:" not in headers
    assert b"\r\nto:" not in headers
    assert b"\r\ncc:" not in headers
    assert b"\r\nreply-to:" not in headers


def test_display_names_that_need_quoting() -> None:
    message = _parsed(_wire(_message(to=[Mailbox("john@example.com", 'Doe, "Johnny" John')])))

    (address,) = message["To"].addresses
    assert (address.display_name, address.addr_spec) == ('Doe, "Johnny" John', "john@example.com")


def test_non_ascii_names_and_subject_are_encoded_words() -> None:
    outgoing = _message(
        sender=Mailbox("noreply@example.com", "Ünïcödé Äpp"),
        to=[Mailbox("john@example.com", "Jürgen Groß")],
        subject="Grüße — 你好 🎉",
    )

    raw = _wire(outgoing)
    message = _parsed(raw)

    _assert_transportable(raw)
    headers = raw.split(b"\r\n\r\n", 1)[0]
    assert b"Subject: =?utf-8?" in headers
    assert b"To: =?utf-8?" in headers
    assert message["Subject"] == "Grüße — 你好 🎉"
    assert message["From"].addresses[0].display_name == "Ünïcödé Äpp"
    assert message["To"].addresses[0].display_name == "Jürgen Groß"


def test_non_ascii_filename_uses_rfc2231() -> None:
    attachment = Attachment(name="Übersicht 2024, résumé.pdf", content=b"x")

    raw = _wire(_message(attachments=[attachment]))

    _assert_transportable(raw)
    assert b"filename*=utf-8''" in raw
    (parsed,) = _parsed(raw).iter_attachments()
    assert parsed.get_filename() == "Übersicht 2024, résumé.pdf"


def test_long_subject_is_folded() -> None:
    subject = "word " * 100

    raw = _wire(_message(subject=subject.strip()))

    _assert_transportable(raw)
    assert _parsed(raw)["Subject"] == subject.strip()


# --- bodies on the wire -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["x" * 5000, "é" * 5000, "Grüße " + "y" * 5000 + "\nnext"])
@pytest.mark.parametrize("kind", ["text", "html"])
def test_no_line_over_998_octets(text: str, kind: str) -> None:
    fields = {"body_text": text} if kind == "text" else {"body_text": None, "body_html": text}
    message = _message(**fields)

    raw = _wire(message)

    _assert_transportable(raw)
    assert _text(_parsed(raw)).rstrip("\n") == text


def test_non_ascii_body_round_trips() -> None:
    text = "Grüße aus Köln\n你好\n🎉\n"

    raw = _wire(_message(body_text=text, body_html=f"<p>{text}</p>"))

    _assert_transportable(raw)
    message = _parsed(raw)
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert _text(plain) == text
    assert _text(html) == f"<p>{text}</p>\n"


def test_binary_attachment_round_trips() -> None:
    payload = bytes(range(256)) * 50

    raw = _wire(_message(attachments=[Attachment(name="all-bytes.bin", content=payload)]))

    _assert_transportable(raw)
    (attachment,) = _parsed(raw).iter_attachments()
    assert attachment.get_content_type() == "application/octet-stream"
    assert attachment.get_content() == payload
