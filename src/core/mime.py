"""Building the MIME message with the stdlib `email` package.

The policy forces 7-bit transfer encodings (quoted-printable or base64 for anything else), so
the message is valid on any relay, with or without 8BITMIME. The stdlib builds the MIME
structure; every header that carries the caller's text (addresses, subject, attachment
names) is written by `core.headers` and stored raw, because the stdlib would decode encoded
words in it and can fold it into other mailboxes (see there). `refold_source="none"` keeps
the generator from re-folding those raw values.
"""

from __future__ import annotations

from datetime import UTC
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from core import headers
from core.addresses import Mailbox
from core.message import Message

POLICY = SMTP.clone(cte_type="7bit", refold_source="none")


def build_message(message: Message) -> EmailMessage:
    """The message as the recipients will see it. Bcc recipients never appear in it."""
    mime = EmailMessage(policy=POLICY)
    # `set_raw` stores a value exactly as given: these are already encoded and folded.
    mime.set_raw("From", _addresses([message.sender]))
    if message.to:
        mime.set_raw("To", _addresses(message.to))
    if message.cc:
        mime.set_raw("Cc", _addresses(message.cc))
    if message.reply_to is not None:
        mime.set_raw("Reply-To", _addresses([message.reply_to]))
    mime.set_raw("Subject", headers.unstructured("Subject", message.subject))
    mime["Date"] = format_datetime(message.date.astimezone(UTC))
    mime["Message-ID"] = message.message_id
    mime["MIME-Version"] = "1.0"

    if message.body_text is not None and message.body_html is not None:
        mime.set_content(message.body_text)
        mime.add_alternative(message.body_html, subtype="html")
    elif message.body_html is not None:
        mime.set_content(message.body_html, subtype="html")
    else:
        mime.set_content(message.body_text or "")

    for attachment in message.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        mime.add_attachment(
            attachment.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
        )
        *_, part = mime.iter_attachments()  # the one just added
        del part["Content-Disposition"]
        part.set_raw("Content-Disposition", headers.attachment_disposition(attachment.name))
    return mime


def _addresses(mailboxes: list[Mailbox]) -> str:
    return headers.address_list((mailbox.name, mailbox.email) for mailbox in mailboxes)
