"""The send request: DreamFactory's email body, validated into plain values.

Parsing this model is the whole of input validation that needs no service: every address
is checked, every attachment decoded. Errors raise `InvalidRequest` with a field-level
message, so nothing half-valid ever reaches the SMTP side.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from core import placeholder_values
from core.address_fields import optional_address, recipient_list
from core.addresses import Mailbox, check_header_text
from core.attachments.model import Attachment
from core.composition.custom_headers import MAX_HEADERS, MAX_VALUE_LENGTH, check_headers
from core.composition.unsubscribe import check_entries
from core.errors import InvalidRequest
from core.message_metadata import METADATA_SCHEMA, check_metadata
from core.placeholder_values import MESSAGE_TEXT_FIELDS, Scalar, set_aside_scalars
from core.settings import get_settings
from core.template_reference import TemplateReference
from core.validation import check_json_text, parse_model

# How the message's texts are written: DreamFactory's `{name}`, or Jinja2 (loops, conditions,
# filters) in a sandbox (`core.composition.jinja`).
TemplateSyntax = Literal["placeholders", "jinja"]

# A send's `tags`: the sender's own labels, stored on its record and filterable in lists.
# (Its `metadata`, the sender's own strings by key: `core.message_metadata`.)
MAX_TAGS = 10
TAG_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Tag = Annotated[str, Field(pattern=TAG_PATTERN)]

# What `tags` may be: the labels, or (a DreamFactory client's) a placeholder value.
_TAGS_SCHEMA = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "string", "pattern": TAG_PATTERN},
            "maxItems": MAX_TAGS,
        },
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
    ]
}

_HEADERS_SCHEMA = {
    "type": "object",
    "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
    "maxProperties": MAX_HEADERS,
    "description": 'Header fields of your own, name to value (`{"X-Campaign": "spring"}`):'
    " one line each, non-ASCII encoded for you. Names that say who the message is from or to"
    " or how it is built (From, To, Cc, Bcc, Reply-To, Sender, Return-Path, Subject, Date,"
    " Message-ID, MIME-Version, Content-*, Received, DKIM-Signature, Resent-*, ARC-*,"
    " X-SES-*, List-Unsubscribe*) are refused with a 400 naming the header.",
    "examples": [{"X-Campaign": "spring-sale", "In-Reply-To": "<173.9b2f6c1e@example.com>"}],
}
_LIST_UNSUBSCRIBE_SCHEMA = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        {"type": "null"},
    ],
    "description": "An https (or http) URL and/or a `mailto:` URI: `List-Unsubscribe`, and for"
    " an https URL RFC 8058's `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.",
    "examples": [["https://example.com/unsubscribe?u={user_token}", "mailto:unsub@example.com"]],
}

# Message records are kept 30 days; a schedule must fall within them.
MAX_SCHEDULE_AHEAD = timedelta(days=30)


def _header_text(field: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        return check_header_text(value, field) if isinstance(value, str) else value

    return BeforeValidator(check)


# What `check_complete` asks, for the document: a template (which may bring the rest), or a
# recipient and a body. (A template named in the query string completes a body too.)
_COMPLETE: list[Any] = [
    {"required": ["template"]},
    {"required": ["template_id"]},
    {
        "allOf": [
            {"anyOf": [{"required": [field]} for field in ("to", "cc", "bcc")]},
            {"anyOf": [{"required": [field]} for field in ("body_text", "body_html")]},
        ]
    },
]


class SendRequest(TemplateReference):
    """`POST /api/v2/{service}`: DreamFactory's body. Unknown top-level strings are placeholders."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "anyOf": _COMPLETE,
            "examples": [
                {
                    "to": [{"email": "john@example.com", "name": "John Doe"}],
                    "cc": "jane@example.com",
                    "subject": "Your order {order_id}",
                    "body_text": "Hello {first_name}, your order {order_id} has shipped.",
                    "body_html": "<p>Hello {first_name}, order <b>{order_id}</b> has shipped.</p>",
                    "from_name": "Example Shop",
                    "from_email": "shop@example.com",
                    "template_data": {"first_name": "John", "order_id": "A-1001"},
                }
            ],
        },
    )

    to: Annotated[list[Mailbox], recipient_list("to")] = Field(default_factory=list)
    cc: Annotated[list[Mailbox], recipient_list("cc")] = Field(default_factory=list)
    bcc: Annotated[list[Mailbox], recipient_list("bcc")] = Field(default_factory=list)
    subject: Annotated[str, _header_text("subject")] = ""
    body_text: str | None = None
    body_html: str | None = None
    from_name: Annotated[str | None, _header_text("from_name")] = None
    from_email: Annotated[str | None, optional_address("from_email")] = None
    reply_to_name: Annotated[str | None, _header_text("reply_to_name")] = None
    reply_to_email: Annotated[str | None, optional_address("reply_to_email")] = None
    attachments: list[Attachment] = Field(default_factory=list)
    template_data: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Values by name: text, numbers, booleans or null; for a Jinja template"
        ' (`"template_syntax": "jinja"`) lists and objects too.',
    )
    template_syntax: TemplateSyntax | None = Field(
        default=None,
        description='`"jinja"`: the subject, bodies and header values are Jinja2 templates'
        " (loops, conditions, filters; HTML-escaped in `body_html`; a missing variable is a"
        ' 400), and `template_data` may hold lists and objects. `"placeholders"`:'
        " DreamFactory's `{name}`. Left out: the stored template's syntax, else placeholders.",
    )
    # Not DreamFactory's: header fields of the caller's own, and one-click unsubscribe. Their
    # values may hold `{placeholders}` and are checked again once rendered.
    headers: Annotated[
        dict[str, str],
        BeforeValidator(check_headers, json_schema_input_type=dict[str, str] | None),
        WithJsonSchema(_HEADERS_SCHEMA),
    ] = Field(default_factory=dict)
    list_unsubscribe: Annotated[
        list[str],
        BeforeValidator(check_entries, json_schema_input_type=str | list[str] | None),
        WithJsonSchema(_LIST_UNSUBSCRIBE_SCHEMA),
    ] = Field(default_factory=list)
    # Queue the message for this time (ISO 8601 with a zone); it can be cancelled until then.
    send_at: AwareDatetime | None = None
    # Not DreamFactory's: labels kept on the message's record. A DreamFactory client knows no
    # tags, so a top-level `tags` that is no list is what any other top-level string is there:
    # a placeholder value (kept aside by `_ours_or_placeholders`).
    tags: Annotated[list[Tag], Field(max_length=MAX_TAGS), WithJsonSchema(_TAGS_SCHEMA)] = Field(
        default_factory=list,
        description=f"Up to {MAX_TAGS} labels of your own (letters, digits, `_.:-`, at most 64"
        " each), kept on the message's record and usable as a filter when listing messages. A"
        " `tags` that is no list is a placeholder value, as any top-level string is.",
    )
    # Not DreamFactory's either, and a placeholder value when it is no object, as `tags` is.
    metadata: Annotated[
        dict[str, str],
        BeforeValidator(check_metadata, json_schema_input_type=dict[str, str] | None),
        WithJsonSchema(METADATA_SCHEMA),
    ] = Field(default_factory=dict)
    # The top-level `tags` / `metadata` that were placeholder values (scalars), by name.
    _placeholders: dict[str, Scalar] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _ours_or_placeholders(
        cls, data: Any, handler: ModelWrapValidatorHandler[SendRequest]
    ) -> SendRequest:
        data, scalars = set_aside_scalars(data)
        request = handler(data)
        request._placeholders = scalars
        return request

    def labels(self) -> list[str]:
        """The message's tags (none when `tags` was a DreamFactory placeholder)."""
        return list(self.tags)

    def model_post_init(self, context: Any) -> None:
        # Parsed with `{"complete": False}`, the recipients and bodies may still come from a
        # template the query string names: `check_complete` runs once that is known.
        if not (isinstance(context, dict) and context.get("complete") is False):
            self.check_complete()
        if self.template_syntax != "jinja" and not self.names_template:
            self.check_scalar_values()
        if self.send_at is not None and self.send_at > datetime.now(UTC) + MAX_SCHEDULE_AHEAD:
            raise InvalidRequest(
                f"'send_at' may be at most {MAX_SCHEDULE_AHEAD.days} days ahead.",
                reason="invalid_send_at",
                context={"field": "send_at"},
            )

    def check_scalar_values(self) -> None:
        """400 for a list or object in `template_data`: only Jinja templates can use one."""
        for key, value in self.template_data.items():
            if isinstance(value, list | dict):
                raise InvalidRequest(
                    f"Invalid 'template_data.{key}': a list or object is a value for Jinja"
                    ' templates only ("template_syntax": "jinja"); {placeholders} take text,'
                    " numbers and booleans.",
                    reason="invalid_template_data",
                    context={"field": f"template_data.{key}"},
                )

    @property
    def names_template(self) -> bool:
        return self.template is not None or self.template_id is not None

    def check_complete(self) -> None:
        """400 unless the message has a recipient and a body, or a template may bring them."""
        if not self.names_template:
            self.require_content()

    def require_content(self) -> None:
        """400 unless the message has a recipient and a body."""
        if not (self.to or self.cc or self.bcc):
            raise InvalidRequest(
                "No recipient given: set at least one of 'to', 'cc' or 'bcc'.",
                reason="no_recipient",
            )
        if not (self.body_text or self.body_html):
            raise InvalidRequest(
                "No message body given: set 'body_text', 'body_html' or both.", reason="no_body"
            )

    def with_template_named(self, name: str | None, template_id: str | None) -> SendRequest:
        """This request, starting from the template the query string names (the body's own
        `template` / `template_id` win); complete, or a 400."""
        named = self
        if not self.names_template and (name or template_id):
            # The query string's id is text: a number when it is all digits.
            number = int(template_id) if template_id and template_id.isdigit() else template_id
            given = {"template": name, "template_id": number}
            named = self.model_copy(update=parse_model(TemplateReference, given).model_dump())
        named.check_complete()
        return named

    def placeholder_values(self) -> dict[str, str]:
        """DreamFactory's placeholder values from this request: every top-level string it
        sets, declared ones (`from_name`, ...) included, and other scalars; then
        `template_data`, which wins."""
        return placeholder_values.as_text(
            self._message_texts(), self.model_extra or {}, self._placeholders, self.template_data
        )

    def template_values(self) -> dict[str, Any]:
        """The values a Jinja template sees from this request: `placeholder_values`, with
        every value as given (numbers stay numbers, lists and objects stay whole)."""
        return placeholder_values.as_given(
            self.placeholder_values(), self.model_extra or {}, self.template_data
        )

    def _message_texts(self) -> dict[str, str]:
        return {
            name: value
            for name in MESSAGE_TEXT_FIELDS
            if name in self.model_fields_set and isinstance(value := getattr(self, name), str)
        }

    def envelope_recipients(self) -> list[str]:
        """Every recipient once, in to, cc, bcc order: the envelope's RCPT TO list."""
        # email-validator already lower-cased the domains; local parts stay case-sensitive.
        return list(dict.fromkeys(m.email for m in (*self.to, *self.cc, *self.bcc)))


def parse_send_request(
    body: Any, *, max_recipients: int | None = None, complete: bool = True
) -> SendRequest:
    """Validate a send body from any entry point (HTTP or direct invocation) the same way.

    The cheap checks come first: the shape of the JSON, then the number of recipients
    (before a single address is validated), then the model. With `complete=False` a body
    without recipients or bodies passes: the query string may still name a template
    (`SendRequest.with_template_named`).
    """
    check_json_text(body)
    if isinstance(body, dict):
        limit = get_settings().max_recipients if max_recipients is None else max_recipients
        _refuse_too_many_recipients(body, limit)
    return parse_model(SendRequest, body, context={"complete": complete})


def _refuse_too_many_recipients(body: dict[str, Any], limit: int) -> None:
    given = sum(
        len(value) if isinstance(value, list) else 1
        for value in (body.get(field) for field in ("to", "cc", "bcc"))
        if value not in (None, "")
    )
    if given > limit:
        raise too_many_recipients(given, limit)


def too_many_recipients(count: int, limit: int) -> InvalidRequest:
    return InvalidRequest(
        f"{count} recipients is more than the {limit} a message may have here (to, cc and bcc"
        " together); send several messages instead.",
        reason="too_many_recipients",
        context={"recipients": count, "limit": limit},
    )
