"""Building the MIME message with the stdlib `email` package.

The policy forces 7-bit transfer encodings (quoted-printable or base64 for anything else) and
RFC 2047/2231 encoded words for non-ASCII headers and filenames, so the message is valid on
any relay, with or without 8BITMIME, and no line exceeds RFC 5322's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from core.addresses import Mailbox
from core.send_request import Attachment

POLICY = SMTP.clone(cte_type="7bit")


@dataclass(frozen=True)
class Draft:
    """Everything a message needs, already validated and rendered."""

    sender: Mailbox
    to: list[Mailbox]
    cc: list[Mailbox]
    reply_to: Mailbox | None
    subject: str
    body_text: str | None
    body_html: str | None
    attachments: list[Attachment] = field(default_factory=list)
    # Fixed when the message is accepted, so every retry carries the same Message-ID.
    message_id: str | None = None


def build_message(draft: Draft) -> EmailMessage:
    """The message as the recipients will see it. Bcc recipients never appear in it."""
    message = EmailMessage(policy=POLICY)
    message["From"] = _address(draft.sender)
    if draft.to:
        message["To"] = [_address(mailbox) for mailbox in draft.to]
    if draft.cc:
        message["Cc"] = [_address(mailbox) for mailbox in draft.cc]
    if draft.reply_to is not None:
        message["Reply-To"] = _address(draft.reply_to)
    message["Subject"] = draft.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = draft.message_id or new_message_id(draft.sender.email)
    message["MIME-Version"] = "1.0"

    if draft.body_text is not None and draft.body_html is not None:
        message.set_content(draft.body_text)
        message.add_alternative(draft.body_html, subtype="html")
    elif draft.body_html is not None:
        message.set_content(draft.body_html, subtype="html")
    else:
        message.set_content(draft.body_text or "")

    for attachment in draft.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.name,
        )
    return message


def new_message_id(sender_email: str) -> str:
    """A Message-ID in the sender's domain, as receiving servers expect."""
    return make_msgid(domain=sender_email.rpartition("@")[2])


def _address(mailbox: Mailbox) -> Address:
    return Address(display_name=mailbox.name, addr_spec=mailbox.email)
