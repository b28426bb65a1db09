"""The normalized message: what a send request comes to once composed and checked.

Everything after composition works on this one model: the policy checks, the MIME builder,
the transports, and the queue, which carries it to the worker as it is (with its Message-ID
and Date fixed), so every attempt delivers exactly what the API checked.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from core.addresses import Mailbox


class Attachment(BaseModel):
    """A file as it goes out: a safe name, its bytes, a bare media type."""

    # Bytes travel as base64 in JSON (the queue's form of a message).
    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    name: str
    content: bytes
    content_type: str = "application/octet-stream"
    # Set for an inline part (an image `body_html` shows as `cid:...`): no `<>`, no space.
    content_id: str | None = None


class Message(BaseModel):
    """Sender, recipients, subject, bodies, attachments (inline parts among them), the
    caller's own header fields, its tags and metadata, and the headers fixed once: the
    Message-ID and the Date. Bcc recipients are in the envelope only, never in a header."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    sender: Mailbox
    to: list[Mailbox] = Field(default_factory=list)
    cc: list[Mailbox] = Field(default_factory=list)
    bcc: list[Mailbox] = Field(default_factory=list)
    reply_to: Mailbox | None = None
    subject: str = ""
    body_text: str | None = None
    body_html: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    # Fields of the caller's own (`headers`, `list_unsubscribe`), checked and rendered, in
    # order: (name, value as the receiver reads it).
    headers: list[tuple[str, str]] = Field(default_factory=list)
    # The sender's labels and strings of its own (`tags`, `metadata`): kept on the record, never
    # in a header of their own; a provider that takes them beside the message (SES's API) gets
    # them through the envelope (`core.transport.base.Envelope`).
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, str] = Field(default_factory=dict)
    message_id: str
    date: AwareDatetime

    def envelope_recipients(self) -> list[str]:
        """Every recipient once, in to, cc, bcc order: the envelope's RCPT TO list."""
        # email-validator already lower-cased the domains; local parts stay case-sensitive.
        return list(dict.fromkeys(m.email for m in (*self.to, *self.cc, *self.bcc)))

    def inline_parts(self) -> list[Attachment]:
        """The attachments shown inside the HTML (`cid:`), in order."""
        return [attachment for attachment in self.attachments if attachment.content_id]

    def attached_files(self) -> list[Attachment]:
        """The attachments proper (not inline), in order."""
        return [attachment for attachment in self.attachments if not attachment.content_id]
