"""Composing: a validated send request, its service and (when it names one) a stored template
in, the normalized `Message` out.

As in DreamFactory, lowest first: the service's `parameters`, the template's fields, the
template's `defaults`, the request. The template fills in the message fields the request
leaves out (recipients, subject, bodies, sender); the service fills in the sender last.
Every top-level string of each layer is a value for `{name}` placeholders (`template_data`
wins over all), HTML-escaped in `body_html` unless the service asks for raw values, and
inserted in the caller's own header fields (`headers`, `list_unsubscribe`) too, which are
checked again once filled in. With `"template_syntax": "jinja"` (the request's, else its
stored template's) the same texts are Jinja2 templates instead, rendered in a sandbox within
limits (`core.composition.jinja`, imported only then) with the same layers as their
variables. Inline parts must agree with the HTML's `cid:` references
(`core.composition.inline_parts`). The request's `tags` and `metadata` travel with the message,
in a header only for a service that sends SES's (`core.composition.ses_fields`). The message
gets the Message-ID and Date it keeps on every attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid
from typing import Any, Protocol

from core import message as outgoing
from core.addresses import Mailbox, check_header_text
from core.attachments.references import InlineAttachment, Reference, parse_reference_fields
from core.composition.custom_headers import check_value
from core.composition.inline_parts import check_inline_parts
from core.composition.jinja.limits import RenderLimits
from core.composition.rendering import render, rendered_size
from core.composition.ses_fields import ses_fields
from core.composition.unsubscribe import header_fields
from core.errors import InvalidRequest
from core.outbound import too_large
from core.placeholder_values import ATTACHMENT_REFERENCES
from core.send_request import SendRequest, TemplateSyntax, parse_send_request
from core.services.model import Service
from core.templates.model import EmailTemplate

DEFAULT_RENDER_LIMITS = RenderLimits()


def compose(
    request: SendRequest,
    service: Service,
    *,
    template: EmailTemplate | None = None,
    fetched: Sequence[outgoing.Attachment] = (),
    now: datetime,
    size_limit: int,
    render_limits: RenderLimits = DEFAULT_RENDER_LIMITS,
) -> outgoing.Message:
    """The message `request` asks for (starting from `template`), sent through `service` at
    `now`.

    `fetched` are the files its `attachment` / `import_url` name (`attachment_references`),
    attached after its own. A request whose rendered text and attachments alone exceed
    `size_limit` is refused (413): before anything is rendered with placeholders, as soon as
    the text outgrows it with Jinja (whose templates also render within `render_limits`).
    """
    given = request  # its own values, before the template's fields are merged in
    request = complete(request, template)
    defaults = service.config
    sender_email, reply_to_email = _sender_and_reply_to(request, service)
    fill = _filler(
        given,
        request,
        service,
        template,
        size_limit=size_limit,
        fetched=fetched,
        render_limits=render_limits,
    )
    subject = fill(request.subject, "subject")
    # A placeholder value is caller input too: it must not smuggle a header into the subject.
    check_header_text(subject, "subject")
    body_html = fill(request.body_html, "body_html", html=True) if request.body_html else None
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
        body_text=fill(request.body_text, "body_text") if request.body_text else None,
        body_html=body_html,
        attachments=attachments,
        headers=own_headers(request, fill) + ses_fields(service, tags, request.metadata),
        tags=tags,
        metadata=request.metadata,
        message_id=new_message_id(sender_email),
        date=now.replace(microsecond=0),  # a Date header's precision
    )


class Fill(Protocol):
    """A field's text with its values filled in (`html`: the values escaped)."""

    def __call__(self, text: str, field: str, *, html: bool = False) -> str: ...


def syntax_of(given: TemplateSyntax | None, template: EmailTemplate | None) -> TemplateSyntax:
    """The syntax the request names, else its stored template's, else placeholders."""
    if given is not None:
        return given
    if template is not None and template.template_syntax is not None:
        return template.template_syntax
    return "placeholders"


def _filler(
    given: SendRequest,
    request: SendRequest,
    service: Service,
    template: EmailTemplate | None,
    *,
    size_limit: int,
    fetched: Sequence[outgoing.Attachment],
    render_limits: RenderLimits,
) -> Fill:
    """How the texts of `request` (`given`, completed by `template`) are filled in, after
    the checks that come before it."""
    if syntax_of(given.template_syntax, template) == "jinja":
        # Imported here: a message with {placeholders} never loads a template engine.
        from core.composition.jinja.render import render_field

        context = template_context(given, service, template)
        files = _attachment_bytes(request, fetched)
        if files > size_limit:
            raise too_large(files, size_limit, at_least=True)
        budget = render_limits.budget(size_limit - files)

        def jinja(text: str, field: str, *, html: bool = False) -> str:
            return render_field(text, context, field=field, html=html, budget=budget)

        return jinja
    given.check_scalar_values()  # a stored template's values, now its syntax is known
    values = placeholder_values(given, service, template)
    raw_html = not service.config.escape_html_values
    _refuse_oversized(request, values, size_limit, raw_html=raw_html, fetched=fetched)

    def placeholders(text: str, field: str, *, html: bool = False) -> str:
        return render(text, values, html=html and not raw_html)

    return placeholders


def own_headers(request: SendRequest, fill: Fill) -> list[tuple[str, str]]:
    """The caller's `headers`, then the `list_unsubscribe` fields, with their values filled
    in (as in the subject: inserted as given) and checked again as sent."""
    fields = [
        (name, check_value(name, fill(value, f"headers.{name}")))
        for name, value in request.headers.items()
    ]
    unsubscribe = [fill(entry, "list_unsubscribe") for entry in request.list_unsubscribe]
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


def template_context(
    request: SendRequest, service: Service, template: EmailTemplate | None
) -> dict[str, Any]:
    """What a Jinja template sees: the layers of `placeholder_values`, in the same order,
    with the template's defaults and the request's values as given (numbers stay numbers,
    `template_data`'s lists and objects stay whole)."""
    values: dict[str, Any] = placeholder_values(request, service, template)
    if template is not None:
        values.update(template.defaults)
    values.update(request.template_values())
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
        + _attachment_bytes(request, fetched)
    )
    if size > limit:
        raise too_large(size, limit, at_least=True)


def _attachment_bytes(request: SendRequest, fetched: Sequence[outgoing.Attachment]) -> int:
    own = sum(len(attachment.content) for attachment in request.attachments)
    return own + sum(len(attachment.content) for attachment in fetched)


def _pick(given: str | None, default: str | None) -> str:
    return given if given is not None else (default or "")
