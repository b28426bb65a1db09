"""Building the MIME message with the stdlib `email` package.

The policy forces 7-bit transfer encodings (quoted-printable or base64 for anything else), so
the message is valid on any relay, with or without 8BITMIME. The stdlib builds the MIME
structure; every header that carries the caller's text (addresses, subject, attachment
names) is written by `core.composition.headers` and stored raw, because the stdlib would decode
encoded words in it and can fold it into other mailboxes (see there). `refold_source="none"` keeps
the generator from re-folding those raw values.
"""

from __future__ import annotations

from datetime import UTC
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime

from core.addresses import Mailbox
from core.composition import headers
from core.message import Attachment, Message

POLICY = SMTP.clone(cte_type="7bit", refold_source="none")


def build_message(message: Message) -> EmailMessage:
    """The message as the recipients will see it. Bcc recipients never appear in it.

    Its tree: the bodies (text, HTML, or `alternative[text, html]`); with inline parts,
    `related[bodies, inline parts...]`; with attachments, `mixed[that, attachments...]`.
    """
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
    for name, value in message.headers:
        mime.set_raw(name, headers.unstructured_or_plain(name, value))

    inline = message.inline_parts()
    if inline:
        _set_related(mime, message, inline)
    else:
        _set_bodies(mime, message)

    for attachment in message.attached_files():
        maintype, subtype = _media_type(attachment)
        mime.add_attachment(attachment.content, maintype=maintype, subtype=subtype)
        *_, part = mime.iter_attachments()  # the one just added
        del part["Content-Disposition"]
        part.set_raw("Content-Disposition", headers.attachment_disposition(attachment.name))
    return mime


def _set_bodies(part: MIMEPart, message: Message) -> None:
    if message.body_text is not None and message.body_html is not None:
        part.set_content(message.body_text)
        part.add_alternative(message.body_html, subtype="html")
    elif message.body_html is not None:
        part.set_content(message.body_html, subtype="html")
    else:
        part.set_content(message.body_text or "")


def _set_related(mime: EmailMessage, message: Message, inline: list[Attachment]) -> None:
    """`mime` as `multipart/related`: the bodies first (its root, RFC 2387, `type` naming
    it), then each inline part with its Content-ID. Built by hand: the stdlib will not wrap an
    alternative in a related part (`make_related` refuses), and its own recipe puts the
    related part inside the alternative, around the HTML alone."""
    bodies = _part()
    _set_bodies(bodies, message)
    mime.make_related()
    mime.set_param("type", bodies.get_content_type())
    mime.attach(_inner(bodies))
    for attachment in inline:
        maintype, subtype = _media_type(attachment)
        part = _part()
        part.set_content(attachment.content, maintype=maintype, subtype=subtype)
        part.set_raw("Content-ID", f"<{attachment.content_id}>")
        part.set_raw(
            "Content-Disposition", headers.attachment_disposition(attachment.name, "inline")
        )
        mime.attach(_inner(part))


def _part() -> EmailMessage:
    """A part inside the message (an `EmailMessage`, what `attach` takes)."""
    return EmailMessage(policy=POLICY)


def _inner(part: EmailMessage) -> EmailMessage:
    """`part` without the MIME-Version its `set_content` wrote: that belongs to the message's
    header alone."""
    for each in part.walk():
        del each["MIME-Version"]
    return part


def _media_type(attachment: Attachment) -> tuple[str, str]:
    maintype, _, subtype = attachment.content_type.partition("/")
    return maintype or "application", subtype or "octet-stream"


def _addresses(mailboxes: list[Mailbox]) -> str:
    return headers.address_list((mailbox.name, mailbox.email) for mailbox in mailboxes)
