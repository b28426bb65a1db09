"""A preview: exactly what a send would hand to the server, described, with nothing sent.

It is read back from the sealed bytes (not from the request), so what it shows is what would
go over the wire: every header as a receiver decodes it (the caller's own and List-Unsubscribe
among them), the envelope (Bcc recipients are there and in no header), the text and HTML
parts, each attachment's name, type and size, and an inline part's Content-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from pydantic import BaseModel, ConfigDict

from core.access.quota import Quota
from core.outbound import Sealed


class AttachmentSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    content_type: str
    size: int  # decoded bytes
    # An inline part's Content-ID, without its brackets (what `cid:` names); None for a file.
    content_id: str | None = None


class Preview(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "service": "email",
                    "sender": "shop@example.com",
                    "recipients": ["john@example.com", "audit@example.com"],
                    "headers": [
                        ["From", "Example Shop <shop@example.com>"],
                        ["To", "John Doe <john@example.com>"],
                        ["Subject", "Your order A-1001"],
                        ["Date", "Mon, 30 Nov 2026 12:00:00 +0000"],
                        ["Message-ID", "<173.9b2f6c1e@example.com>"],
                        ["MIME-Version", "1.0"],
                        ["Content-Type", 'multipart/mixed; boundary="===============1=="'],
                    ],
                    "body_text": "Hello John, your order A-1001 has shipped.\n",
                    "body_html": None,
                    "attachments": [
                        {"name": "invoice.pdf", "content_type": "application/pdf", "size": 48213}
                    ],
                    "size": 66120,
                }
            ]
        },
    )

    service: str
    sender: str  # the envelope's MAIL FROM
    recipients: list[str]  # the envelope's RCPT TO: to, cc and bcc
    headers: list[tuple[str, str]]  # in order, decoded
    body_text: str | None
    body_html: str | None
    attachments: list[AttachmentSummary]
    size: int  # the message's bytes on the wire


@dataclass(frozen=True)
class Previewed:
    """A preview, and the caller's rate limit after it (a preview counts as a send does)."""

    preview: Preview
    quota: Quota | None


def describe(service_name: str, sealed: Sealed) -> Preview:
    """What sending `sealed` through the service would hand over."""
    parsed = BytesParser(policy=policy.default).parsebytes(sealed.raw)
    assert isinstance(parsed, EmailMessage)  # what policy.default parses into
    return Preview(
        service=service_name,
        sender=sealed.message.sender.email,
        recipients=sealed.message.envelope_recipients(),
        headers=[(name, str(value)) for name, value in parsed.items()],
        body_text=_text(parsed, "plain"),
        body_html=_text(parsed, "html"),
        attachments=[
            AttachmentSummary(
                name=part.get_filename() or "",
                content_type=part.get_content_type(),
                size=len(part.get_payload(decode=True) or b""),
                content_id=_content_id(part),
            )
            # The bodies carry no Content-Disposition; inline parts and files do.
            for part in parsed.walk()
            if part.get_content_disposition() is not None
        ],
        size=len(sealed.raw),
    )


def _content_id(part: EmailMessage) -> str | None:
    if part.get_content_disposition() != "inline" or part["content-id"] is None:
        return None
    return str(part["content-id"]).strip().removeprefix("<").removesuffix(">")


def _text(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content: str = part.get_content()
    # A text part travels in canonical form (CRLF); shown with the line ends it was given.
    return content.replace("\r\n", "\n")
