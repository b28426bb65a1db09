"""Building the MIME message with the stdlib `email` package.

The policy forces 7-bit transfer encodings (quoted-printable or base64 for anything else), so
the message is valid on any relay, with or without 8BITMIME. The stdlib builds the MIME
structure; every header that carries the caller's text (addresses, subject, attachment
names) is written by `core.headers` and stored raw, because the stdlib would decode encoded
words in it and can fold it into other mailboxes (see there). `refold_source="none"` keeps
the generator from re-folding those raw values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid

from core import headers
from core.addresses import Mailbox
from core.send_request import Attachment

POLICY = SMTP.clone(cte_type="7bit", refold_source="none")


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
    # `set_raw` stores a value exactly as given: these are already encoded and folded.
    message.set_raw("From", _addresses([draft.sender]))
    if draft.to:
        message.set_raw("To", _addresses(draft.to))
    if draft.cc:
        message.set_raw("Cc", _addresses(draft.cc))
    if draft.reply_to is not None:
        message.set_raw("Reply-To", _addresses([draft.reply_to]))
    message.set_raw("Subject", headers.unstructured("Subject", draft.subject))
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
        )
        *_, part = message.iter_attachments()  # the one just added
        del part["Content-Disposition"]
        part.set_raw("Content-Disposition", headers.attachment_disposition(attachment.name))
    return message


def new_message_id(sender_email: str) -> str:
    """A Message-ID in the sender's domain, as receiving servers expect."""
    return make_msgid(domain=sender_email.rpartition("@")[2])


def _addresses(mailboxes: list[Mailbox]) -> str:
    return headers.address_list((mailbox.name, mailbox.email) for mailbox in mailboxes)
