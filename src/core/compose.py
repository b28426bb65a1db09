"""Composing: a validated send request and its service in, the normalized `Message` out.

The service fills in what the request leaves out (sender, reply-to), placeholders are
rendered, and the message gets the Message-ID and Date it keeps on every attempt.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import make_msgid

from core import message as outgoing
from core.addresses import Mailbox, check_header_text
from core.errors import InvalidRequest
from core.outbound import too_large
from core.rendering import render, rendered_size
from core.send_request import SendRequest
from core.services.model import Service


def compose(
    request: SendRequest, service: Service, *, now: datetime, size_limit: int
) -> outgoing.Message:
    """The message `request` asks for, sent through `service` at `now`.

    A request whose rendered text and attachments alone exceed `size_limit` is refused (413)
    before anything is rendered.
    """
    defaults = service.config
    sender_email = request.from_email or defaults.from_email
    if not sender_email:
        raise InvalidRequest(
            "No sender: give 'from_email' or set the service's default 'from_email'.",
            reason="no_sender",
            context={"field": "from_email"},
        )
    reply_to_email = request.reply_to_email or defaults.reply_to_email
    values = request.placeholder_values()
    _refuse_oversized(request, values, size_limit)
    subject = render(request.subject, values)
    # A placeholder value is caller input too: it must not smuggle a header into the subject.
    check_header_text(subject, "subject")
    return outgoing.Message(
        sender=Mailbox(sender_email, _pick(request.from_name, defaults.from_name)),
        to=request.to,
        cc=request.cc,
        bcc=request.bcc,
        reply_to=(
            Mailbox(reply_to_email, _pick(request.reply_to_name, defaults.reply_to_name))
            if reply_to_email
            else None
        ),
        subject=subject,
        body_text=render(request.body_text, values) if request.body_text else None,
        body_html=render(request.body_html, values, html=True) if request.body_html else None,
        attachments=[
            outgoing.Attachment(
                name=attachment.name,
                content=attachment.content,
                content_type=attachment.content_type,
            )
            for attachment in request.attachments
        ],
        message_id=new_message_id(sender_email),
        date=now.replace(microsecond=0),  # a Date header's precision
    )


def new_message_id(sender_email: str) -> str:
    """A Message-ID in the sender's domain, as receiving servers expect."""
    return make_msgid(domain=sender_email.rpartition("@")[2])


def _refuse_oversized(request: SendRequest, values: dict[str, str], limit: int) -> None:
    """413 when the message cannot fit: the rendered texts and the decoded attachments are a
    lower bound of its size (transfer encodings only add to them)."""
    size = (
        rendered_size(request.subject, values)
        + rendered_size(request.body_text or "", values)
        + rendered_size(request.body_html or "", values, html=True)
        + sum(len(attachment.content) for attachment in request.attachments)
    )
    if size > limit:
        raise too_large(size, limit, at_least=True)


def _pick(given: str | None, default: str | None) -> str:
    return given if given is not None else (default or "")
