"""The send request: DreamFactory's email body, validated into plain values.

Parsing this model is the whole of input validation that needs no service: every address
is checked, every attachment decoded. Errors raise `InvalidRequest` with a field-level
message, so nothing half-valid ever reaches the SMTP side.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)

from core.addresses import (
    EmailAddress,
    Mailbox,
    OptionalEmailAddress,
    check_header_text,
    parse_mailbox,
    reject_line_breaks,
)
from core.composition.custom_headers import MAX_HEADERS, MAX_VALUE_LENGTH, check_headers
from core.composition.unsubscribe import check_entries
from core.errors import InvalidRequest
from core.message_metadata import METADATA_SCHEMA, check_metadata
from core.settings import get_settings
from core.validation import NUMBER_ONLY, check_json_text, parse_model

PlaceholderValue = str | int | float | bool | None

# How the message's texts are written: DreamFactory's `{name}`, or Jinja2 (loops, conditions,
# filters) in a sandbox (`core.composition.jinja`).
TemplateSyntax = Literal["placeholders", "jinja"]

# The declared fields that say what the mail says and who it is from; their text is a
# placeholder value too (DreamFactory substitutes every top-level string of the request).
MESSAGE_TEXT_FIELDS = (
    "subject",
    "body_text",
    "body_html",
    "from_name",
    "from_email",
    "reply_to_name",
    "reply_to_email",
)

# DreamFactory's fields naming files by URL (or inline): see `core.attachments.references`.
ATTACHMENT_REFERENCES = ("attachment", "import_url")

# A send's `tags`: the sender's own labels, stored on its record and filterable in lists.
# (Its `metadata`, the sender's own strings by key: `core.message_metadata`.)
MAX_TAGS = 10
TAG_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
Tag = Annotated[str, Field(pattern=TAG_PATTERN)]

# Fields of ours that a DreamFactory client may send as placeholder values: given as a scalar,
# they are one (DreamFactory substitutes every top-level string), not our field.
PLACEHOLDER_WHEN_SCALAR = ("tags", "metadata")

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


class RecipientObject(BaseModel):
    """DreamFactory's object form of a recipient."""

    email: EmailAddress
    name: str | None = None


# DreamFactory accepts a string, an object, or a list of either.
RecipientInput = EmailAddress | RecipientObject | list[EmailAddress | RecipientObject]


def _recipient_list(field: str) -> BeforeValidator:
    def parse(value: Any) -> list[Mailbox]:
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        return [_parse_recipient(item, field) for item in items]

    return BeforeValidator(parse, json_schema_input_type=RecipientInput | None)


def _parse_recipient(item: Any, field: str) -> Mailbox:
    if isinstance(item, str):
        return parse_mailbox(item, None, field)
    if isinstance(item, dict) and isinstance(item.get("email"), str):
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidRequest(
                f"Invalid name in '{field}': must be a string.", context={"field": field}
            )
        return parse_mailbox(item["email"], name, field)
    raise InvalidRequest(
        f"Invalid recipient in '{field}': expected an address or an object with 'email'.",
        reason="invalid_address",
        context={"field": field},
    )


def _optional_address(field: str) -> BeforeValidator:
    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise InvalidRequest(f"Invalid '{field}': must be a string.", context={"field": field})
        return parse_mailbox(value, None, field).email

    return BeforeValidator(parse, json_schema_input_type=OptionalEmailAddress)


def _header_text(field: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        return check_header_text(value, field) if isinstance(value, str) else value

    return BeforeValidator(check)


# ASCII only: a non-ASCII media type would become an encoded word, which MIME forbids there.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[\w.+-]+$", re.ASCII)


def _content_type(value: Any) -> Any:
    # A bare type/subtype: parameters and container types are ours to write, not the caller's.
    if value in (None, ""):
        return "application/octet-stream"
    if not isinstance(value, str):
        return value
    reject_line_breaks(value, "attachments.content_type")
    if not _MEDIA_TYPE.match(value) or value.lower().startswith(("multipart/", "message/")):
        raise InvalidRequest(
            f"Invalid attachment content_type '{value}': expected a media type like"
            " 'application/pdf'.",
            context={"field": "attachments.content_type"},
        )
    return value.lower()


# Unicode categories that have no business in a file name: controls, format characters
# (bidi overrides such as U+202E turn "invoice\u202efdp.exe" into "invoiceexe.pdf" on screen,
# zero-width joiners), line and paragraph separators, private use, unassigned, surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# Characters Windows forbids in names, and path separators of every system.
_RESERVED = re.compile(r'[<>:"/\\|?*]')
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")
MAX_FILENAME_LENGTH = 255


def safe_filename(name: str) -> str:
    """The attachment name a recipient's machine can safely save under: the last path
    segment only, without control, bidi or reserved characters; Unicode kept (NFC)."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rpartition("/")[2]
    cleaned = "".join(
        character for character in base if unicodedata.category(character) not in _UNSAFE_CATEGORIES
    )
    # Leading dots hide a file, trailing ones and spaces Windows drops; readers strip spaces.
    cleaned = _EDGES.sub("", _RESERVED.sub("_", cleaned))
    if len(cleaned) > MAX_FILENAME_LENGTH:
        _stem, dot, extension = cleaned.rpartition(".")
        keep = extension if dot and len(extension) <= 16 else ""
        cleaned = _EDGES.sub("", cleaned[: MAX_FILENAME_LENGTH - len(keep) - 1]) + (
            "." + keep if keep else ""
        )
    return cleaned or "attachment"


# An inline part's Content-ID, written as `<id>`: RFC 5322's atom characters and at most one
# '@' (no '<', '>', space, quote or line break), without '=?' (an encoded word to a reader).
MAX_CONTENT_ID_LENGTH = 128
_CONTENT_ID_CHARACTERS = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_CONTENT_ID = re.compile(rf"{_CONTENT_ID_CHARACTERS}(@{_CONTENT_ID_CHARACTERS})?", re.ASCII)


def _content_id(value: Any) -> Any:
    return check_content_id(value) if isinstance(value, str) else value


def check_content_id(value: Any, field: str = "attachments.content_id") -> str | None:
    """An inline part's `content_id` as given (None when empty), or a 400."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequest(
            f"Invalid '{field}': must be a string.",
            reason="invalid_content_id",
            context={"field": field},
        )
    reject_line_breaks(value, field)
    if not _CONTENT_ID.fullmatch(value) or "=?" in value or len(value) > MAX_CONTENT_ID_LENGTH:
        raise InvalidRequest(
            f"Invalid attachment content_id {value[:MAX_CONTENT_ID_LENGTH]!r}: expected up to"
            f" {MAX_CONTENT_ID_LENGTH} letters, digits and symbols such as '.-_', with at most"
            " one '@', and without the angle brackets ('logo', 'logo.png@example.com').",
            reason="invalid_content_id",
            context={"field": field},
        )
    return value


class Attachment(BaseModel):
    """One attachment, its content already decoded from base64, its name made safe; with a
    `content_id`, an inline part (an image `body_html` shows as `cid:<content_id>`)."""

    name: Annotated[
        str,
        # Line breaks are refused as anywhere in a header; other controls are dropped.
        BeforeValidator(
            lambda value: (
                reject_line_breaks(value, "attachments.name") if isinstance(value, str) else value
            )
        ),
        Field(min_length=1),
        AfterValidator(safe_filename),
    ]
    content: Annotated[bytes, BeforeValidator(lambda value: _decode_base64(value))] = Field(
        json_schema_extra={"format": "base64"}
    )
    content_type: Annotated[str, BeforeValidator(_content_type)] = "application/octet-stream"
    content_id: Annotated[
        # The length bound on the text alone: an empty id is read as none (None).
        Annotated[str, Field(max_length=MAX_CONTENT_ID_LENGTH)] | None,
        BeforeValidator(_content_id),
        Field(
            description="Makes the file an inline part, shown where `body_html` says"
            ' `cid:` and this id (`<img src="cid:logo">`); unique within the message, without'
            " angle brackets.",
        ),
    ] = None
    disposition: Literal["attachment", "inline"] | None = Field(
        default=None,
        description='`"inline"` (needs a `content_id`) or `"attachment"` (the default, not'
        " with a `content_id`).",
    )

    @model_validator(mode="after")
    def _inline_has_content_id(self) -> Attachment:
        inline = self.content_id is not None
        if self.disposition is not None and (self.disposition == "inline") != inline:
            raise InvalidRequest(
                f"Invalid attachment '{self.name}': an inline part needs a 'content_id', and"
                " one with a 'content_id' is inline ('disposition' may be left out).",
                reason="invalid_attachment",
                context={"field": "attachments.disposition"},
            )
        return self


def _decode_base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise InvalidRequest(
            "Invalid attachment content: must be a base64 string.", reason="invalid_base64"
        )
    # `base64 file` wraps lines; accept that, but nothing else outside the alphabet.
    compact = "".join(value.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidRequest(
            "Invalid attachment content: not valid base64.", reason="invalid_base64"
        ) from error


def _no_template_is_none(value: Any) -> Any:
    # DreamFactory's BaseService tests both with PHP's `empty()`: an app sending
    # `"template_id": 0` or `"template": ""` beside a real one means "no template" by it.
    if value is None or value == "" or (value == 0 and not isinstance(value, bool)):
        return None
    return value


def _template_id_as_number(value: Any) -> Any:
    # An app filling the body from a form sends `"template_id": "4"`: DreamFactory finds
    # template 4 by it (and `"0"` is PHP-empty too). Other text stays text, and a 400.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return _no_template_is_none(value)


_TEMPLATE_NAME_SCHEMA = {
    "anyOf": [{"type": "string", "maxLength": 128}, {"type": "null"}],
    "description": 'A stored template\'s name; empty (`""`) or null: none.',
}
_TEMPLATE_ID_SCHEMA = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": "^[0-9]*$"},
        {"type": "null"},
    ],
    "description": 'A stored template\'s id, as a number or digits; `0`, `"0"`, empty (`""`)'
    " or null: none.",
}


class TemplateReference(BaseModel):
    """How a request names a stored template: by name, or by DreamFactory's numeric id
    (in the body, or in the query string)."""

    template: Annotated[
        Annotated[str, Field(min_length=1, max_length=128)] | None,
        BeforeValidator(_no_template_is_none),
        WithJsonSchema(_TEMPLATE_NAME_SCHEMA),
    ] = None
    template_id: Annotated[
        Annotated[int, Field(ge=1), NUMBER_ONLY] | None,
        BeforeValidator(_template_id_as_number),
        WithJsonSchema(_TEMPLATE_ID_SCHEMA),
    ] = None


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

    to: Annotated[list[Mailbox], _recipient_list("to")] = Field(default_factory=list)
    cc: Annotated[list[Mailbox], _recipient_list("cc")] = Field(default_factory=list)
    bcc: Annotated[list[Mailbox], _recipient_list("bcc")] = Field(default_factory=list)
    subject: Annotated[str, _header_text("subject")] = ""
    body_text: str | None = None
    body_html: str | None = None
    from_name: Annotated[str | None, _header_text("from_name")] = None
    from_email: Annotated[str | None, _optional_address("from_email")] = None
    reply_to_name: Annotated[str | None, _header_text("reply_to_name")] = None
    reply_to_email: Annotated[str | None, _optional_address("reply_to_email")] = None
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
    _placeholders: dict[str, str | int | float | bool] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _ours_or_placeholders(
        cls, data: Any, handler: ModelWrapValidatorHandler[SendRequest]
    ) -> SendRequest:
        scalars: dict[str, str | int | float | bool] = {}
        if isinstance(data, dict):
            scalars = {
                name: value
                for name in PLACEHOLDER_WHEN_SCALAR
                if isinstance(value := data.get(name), str | int | float | bool)
            }
            if scalars:
                data = {name: value for name, value in data.items() if name not in scalars}
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
        values: dict[str, str] = {
            name: value
            for name in MESSAGE_TEXT_FIELDS
            if name in self.model_fields_set and isinstance(value := getattr(self, name), str)
        }
        for key, value in (self.model_extra or {}).items():
            if key in ATTACHMENT_REFERENCES:
                continue  # files to attach, not text to insert
            if isinstance(value, str | int | float | bool):
                values[key] = str(value)
        for name, scalar in self._placeholders.items():
            values[name] = str(scalar)
        for key, value in self.template_data.items():
            values[key] = "" if value is None else str(value)
        return values

    def template_values(self) -> dict[str, Any]:
        """The values a Jinja template sees from this request: `placeholder_values`, with
        every value as given (numbers stay numbers, lists and objects stay whole)."""
        values: dict[str, Any] = self.placeholder_values()
        values.update(
            (key, value)
            for key, value in (self.model_extra or {}).items()
            if key not in ATTACHMENT_REFERENCES and isinstance(value, str | int | float | bool)
        )
        values.update(self.template_data)
        return values

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
