"""Composing: a validated send request, its service and (when it names one) a stored template
in, the normalized `Message` out.

As in DreamFactory, lowest first: the service's `parameters`, the template's fields, the
template's `defaults`, the request. The template fills in the message fields the request
leaves out (recipients, subject, bodies, sender); the service fills in the sender last.
Every top-level string of each layer is a value for `{name}` placeholders (`template_data`
wins over all), HTML-escaped in `body_html` unless the service asks for raw values, and
inserted in the caller's own header fields (`headers`, `list_unsubscribe`) too, which are
checked again once filled in. Inline parts must agree with the HTML's `cid:` references
(`core.composition.inline_parts`). The request's `tags` and `metadata` travel with the message,
in a header only for a service that sends SES's (`core.composition.ses_fields`). The message
gets the Message-ID and Date it keeps on every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from core import message as outgoing
from core.addresses import Mailbox, check_header_text
from core.attachments.references import InlineAttachment, Reference, parse_reference_fields
from core.composition.custom_headers import check_value
from core.composition.inline_parts import check_inline_parts
from core.composition.rendering import render, rendered_size
from core.composition.ses_fields import ses_fields
from core.composition.unsubscribe import header_fields
from core.errors import InvalidRequest
from core.outbound import too_large
from core.send_request import ATTACHMENT_REFERENCES, SendRequest, parse_send_request
from core.services.model import Service
from core.templates.model import EmailTemplate


def compose(
    request: SendRequest,
    service: Service,
    *,
    template: EmailTemplate | None = None,
    fetched: Sequence[outgoing.Attachment] = (),
    now: datetime,
    size_limit: int,
) -> outgoing.Message:
    """The message `request` asks for (starting from `template`), sent through `service` at
    `now`.

    `fetched` are the files its `attachment` / `import_url` name (`attachment_references`),
    attached after its own. A request whose rendered text and attachments alone exceed
    `size_limit` is refused (413) before anything is rendered.
    """
    values = placeholder_values(request, service, template)
    request = complete(request, template)
    defaults = service.config
    sender_email, reply_to_email = _sender_and_reply_to(request, service)
    raw_html = not defaults.escape_html_values
    _refuse_oversized(request, values, size_limit, raw_html=raw_html, fetched=fetched)
    subject = render(request.subject, values)
    # A placeholder value is caller input too: it must not smuggle a header into the subject.
    check_header_text(subject, "subject")
    body_html = render(request.body_html, values, html=not raw_html) if request.body_html else None
    attachments = [
        outgoing.Attachment(
            name=attachment.name,
            content=attachment.content,
            content_type=attachment.content_type,
            content_id=attachment.content_id,
        )
        for attachment in request.attachments
    ] + list(fetched)
    check_inline_parts(attachments, body_html)
    tags = list(dict.fromkeys(request.labels()))
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
        body_html=body_html,
        attachments=attachments,
        headers=own_headers(request, values) + ses_fields(service, tags, request.metadata),
        tags=tags,
        metadata=request.metadata,
        message_id=new_message_id(sender_email),
        date=now.replace(microsecond=0),  # a Date header's precision
    )


def own_headers(request: SendRequest, values: dict[str, str]) -> list[tuple[str, str]]:
    """The caller's `headers`, then the `list_unsubscribe` fields, with their placeholders
    filled in (as in the subject: values inserted as given) and checked again as sent."""
    fields = [
        (name, check_value(name, render(value, values))) for name, value in request.headers.items()
    ]
    unsubscribe = [render(entry, values) for entry in request.list_unsubscribe]
    return fields + header_fields(unsubscribe)


@dataclass(frozen=True)
class Addressing:
    """Who a message is from and to, as `compose` will make it."""

    sender: str
    reply_to: str | None
    recipients: list[str]


def addressing(
    request: SendRequest, service: Service, template: EmailTemplate | None
) -> Addressing:
    """The message's sender, reply-to and envelope recipients (request, then template, then
    the service's defaults), without rendering or fetching anything: what a role's rules judge
    before any work is done (400 if the message would have no recipient, body or sender)."""
    request = complete(request, template)
    sender, reply_to = _sender_and_reply_to(request, service)
    return Addressing(sender, reply_to, request.envelope_recipients())


def complete(request: SendRequest, template: EmailTemplate | None) -> SendRequest:
    """The request with its template's fields, holding a recipient and a body, or a 400."""
    if template is not None:
        request = with_template(request, template)
    request.require_content()
    return request


def _sender_and_reply_to(request: SendRequest, service: Service) -> tuple[str, str | None]:
    defaults = service.config
    sender_email = request.from_email or defaults.from_email
    if not sender_email:
        raise InvalidRequest(
            "No sender: give 'from_email' or set the service's default 'from_email'.",
            reason="no_sender",
            context={"field": "from_email"},
        )
    return sender_email, request.reply_to_email or defaults.reply_to_email


def placeholder_values(
    request: SendRequest, service: Service, template: EmailTemplate | None
) -> dict[str, str]:
    """The values for `{name}`, each layer over the one before: the service's parameters, the
    template's own strings (its name and description included, as DreamFactory merges the
    whole record), its `defaults`, then the request's (`template_data` last)."""
    values = service.config.placeholder_parameters()
    if template is not None:
        own = {"name": template.name, "description": template.description}
        own.update(template.message_fields())
        values.update({key: value for key, value in own.items() if isinstance(value, str)})
        values.update(
            {key: "" if value is None else str(value) for key, value in template.defaults.items()}
        )
    values.update(request.placeholder_values())
    return values


def attachment_references(
    request: SendRequest, template: EmailTemplate | None
) -> list[Reference | InlineAttachment]:
    """The files DreamFactory's `attachment` and `import_url` name: the request's, or, when it
    names none, its template's (400 for what cannot be honoured, never a silent drop)."""
    given = {
        key: value
        for key, value in (request.model_extra or {}).items()
        if key in ATTACHMENT_REFERENCES
    }
    if not given and template is not None and template.attachment is not None:
        given = {"attachment": template.attachment}
    return parse_reference_fields(given) if given else []


def with_template(request: SendRequest, template: EmailTemplate) -> SendRequest:
    """The request with the template's message fields wherever the request leaves them out."""
    base = parse_send_request(template.message_fields(), complete=False)
    given = {
        name: getattr(request, name)
        for name in request.model_fields_set
        if name in SendRequest.model_fields and getattr(request, name) is not None
    }
    # Extra top-level keys are placeholder values (counted above) or DreamFactory fields the
    # request brings itself; the template's own never override them.
    extra = {**(base.model_extra or {}), **(request.model_extra or {})}
    return base.model_copy(update={**extra, **given})


def new_message_id(sender_email: str) -> str:
    """A Message-ID in the sender's domain, as receiving servers expect."""
    return make_msgid(domain=sender_email.rpartition("@")[2])


def _refuse_oversized(
    request: SendRequest,
    values: dict[str, str],
    limit: int,
    *,
    raw_html: bool,
    fetched: Sequence[outgoing.Attachment],
) -> None:
    """413 when the message cannot fit: the rendered texts and the decoded attachments are a
    lower bound of its size (transfer encodings only add to them)."""
    size = (
        rendered_size(request.subject, values)
        + rendered_size(request.body_text or "", values)
        + rendered_size(request.body_html or "", values, html=not raw_html)
        + sum(len(attachment.content) for attachment in request.attachments)
        + sum(len(attachment.content) for attachment in fetched)
    )
    if size > limit:
        raise too_large(size, limit, at_least=True)


def _pick(given: str | None, default: str | None) -> str:
    return given if given is not None else (default or "")
