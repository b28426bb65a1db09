"""What may be stored as a template: DreamFactory's fields, checked as far as they can be
without a service, so that a stored template never fails a send for a reason known today.

Addresses and header text get the send body's own checks (`core.send_request`), field by
field: a template may leave any of them out, as DreamFactory's may. Of the attachment only
the shape is checked; what a URL or path points at is fetched when a message is sent.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from core.addresses import check_header_text
from core.attachments.model import Attachment
from core.composition.unsubscribe import check_entries, header_fields
from core.errors import InvalidRequest, MessageTooLarge
from core.send_request import SendRequest
from core.templates.model import (
    EXAMPLE,
    MAX_TEMPLATE_NAME,
    TEMPLATE_NAME,
    TemplateFields,
    valid_template_name,
)
from core.validation import NUMBER_ONLY, check_json_text, invalid_request_from

# DynamoDB takes items of up to 400 KB; a template is kept to well under that, with room for
# its key, id and dates. Above it is no template but a mailing.
MAX_TEMPLATE_BYTES = 256 * 1024

# DynamoDB's numbers: 38 significant digits, magnitudes from 1e-130 to below 1e126.
_LARGEST_NUMBER = 1e125
_SMALLEST_NUMBER = 1e-130
_MOST_DIGITS = 38

# The fields a template shares with the send body, checked as the send body checks them.
_SEND_CHECKED = (
    "to",
    "cc",
    "bcc",
    "subject",
    "from_name",
    "from_email",
    "reply_to_name",
    "reply_to_email",
    "headers",
    "list_unsubscribe",
)
_send_fields: dict[str, Any] = {
    field: (SendRequest.model_fields[field].annotation, SendRequest.model_fields[field])
    for field in _SEND_CHECKED
}
_SendFields: type[BaseModel] = create_model("TemplateSendFields", **_send_fields)

_PLACEHOLDER = re.compile(r"{[^{}]*}")
# A Jinja expression, statement or comment, as one value stands for it.
_JINJA_TAG = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
_ENTRY_KEYS = frozenset({"name", "content", "content_type", "content_id", "disposition"})


class TemplateInput(TemplateFields):
    """`POST /api/v2/system/email_template`: a template to store; its id is assigned here."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    # Checked by `_valid_name` (its own reasons); the document shows the same rules.
    name: Annotated[
        str,
        Field(
            json_schema_extra={
                "pattern": TEMPLATE_NAME.pattern,
                "maxLength": MAX_TEMPLATE_NAME,
                "not": {"pattern": "^[0-9]+$"},
            }
        ),
    ]

    @model_validator(mode="before")
    @classmethod
    def _text_only(cls, data: Any) -> Any:
        # NUL, lone surrogates and absurd nesting: refused before any field is looked at.
        check_json_text(data)
        check_storable(data)
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if name.isascii() and name.isdigit():  # as `as_id` reads a path segment
            raise InvalidRequest(
                f"Invalid template name '{name}': it must not be all digits, which name an id"
                " in /api/v2/system/email_template/{id_or_name}.",
                reason="invalid_template_name",
                context={"field": "name"},
            )
        return valid_template_name(name)

    @model_validator(mode="after")
    def _sendable(self) -> Self:
        check_send_fields(self)
        check_template_syntax(self)
        check_attachment(self.attachment)
        size = len(self.model_dump_json().encode())
        if size > MAX_TEMPLATE_BYTES:
            raise MessageTooLarge(
                f"The template is {size} bytes of JSON; at most {MAX_TEMPLATE_BYTES} are kept.",
                reason="template_too_large",
                context={"size": size, "limit": MAX_TEMPLATE_BYTES},
            )
        return self


class NewTemplate(TemplateInput):
    """A create's record: a template, and the id it had where it comes from. That id is kept
    only when the create asks for it (`?keep_ids=true`, `mailer import`); otherwise it is
    ignored, as DreamFactory ignores one (`id` is not in df-core `EmailTemplate::$fillable`),
    so a record sent back as fetched is created anew."""

    id: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None


def check_storable(value: Any, field: str = "") -> None:
    """400 for what DynamoDB cannot keep, anywhere in a template: an empty object key (stored by
    moto, it made every later read of the templates a 500), or a number out of its range."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "":
                raise InvalidRequest(
                    f"Invalid '{field or 'body'}': an object key may not be empty.",
                    context={"field": field},
                )
            check_storable(item, f"{field}.{key}" if field else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, f"{field}.{index}")
    elif _is_number(value) and not _keepable_number(value):
        raise InvalidRequest(
            f"Invalid '{field}': a number must be finite, with at most {_MOST_DIGITS}"
            " digits, between 1e-130 and 1e125; give others as text.",
            context={"field": field},
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _keepable_number(value: float) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and (
            value == 0 or _SMALLEST_NUMBER <= abs(value) < _LARGEST_NUMBER
        )
    return len(str(abs(value))) <= _MOST_DIGITS


def check_send_fields(fields: TemplateFields) -> None:
    """Recipients, sender and reply-to addresses, subject and names, as a send checks them."""
    given = {name: getattr(fields, name) for name in _SEND_CHECKED}
    try:
        _SendFields.model_validate(
            {name: value for name, value in given.items() if value is not None}
        )
    except ValidationError as error:
        raise invalid_request_from(error) from error
    # Its unsubscribe links as a send will check them, each placeholder standing for a value.
    entries = check_entries(fields.list_unsubscribe)
    tags = _JINJA_TAG if fields.template_syntax == "jinja" else _PLACEHOLDER
    header_fields([tags.sub("x", entry) for entry in entries])


def check_template_syntax(fields: TemplateFields) -> None:
    """A Jinja template's texts compile (400 `template_syntax_error` naming the field and
    line): a syntax error is known when it is stored, not when it is first sent."""
    if fields.template_syntax != "jinja":
        return
    # Imported here: templates with {placeholders} never load a template engine.
    from core.composition.jinja.render import compile_field

    texts = [(name, getattr(fields, name)) for name in ("subject", "body_text", "body_html")]
    texts += [(f"headers.{name}", value) for name, value in (fields.headers or {}).items()]
    texts += [("list_unsubscribe", entry) for entry in check_entries(fields.list_unsubscribe)]
    for field, text in texts:
        if text:
            compile_field(text, field=field, html=field == "body_html")


def check_attachment(value: Any) -> None:
    """DreamFactory's `attachment`: a URL or path (several separated by commas), a list of
    them, or base64 entries `{name, content, content_type}` (one, or a list, mixed with
    strings). The shape only, and that each entry's content is base64."""
    if value is None:
        return
    listed = isinstance(value, list)
    for index, item in enumerate(value if listed else [value]):
        field = f"attachment.{index}" if listed else "attachment"
        if isinstance(item, str):
            _check_location(item, field)
        elif isinstance(item, dict):
            _check_entry(item, field)
        else:
            raise InvalidRequest(
                f"Invalid '{field}': expected a URL or path, or an object with 'name' and"
                " 'content' (base64).",
                reason="invalid_attachment",
                context={"field": field},
            )


def _check_location(value: str, field: str) -> None:
    check_header_text(value, field)
    if not any(part.strip() for part in value.split(",")):
        raise InvalidRequest(
            f"Invalid '{field}': an empty URL or path.",
            reason="invalid_attachment",
            context={"field": field},
        )


def _check_entry(entry: dict[str, Any], field: str) -> None:
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise InvalidRequest(
            f"Invalid '{field}': unknown key(s) {', '.join(unknown)}; an attachment entry has"
            " 'name', 'content' (base64) and optionally 'content_type', 'content_id' and"
            " 'disposition'.",
            reason="invalid_attachment",
            context={"field": field, "unknown": unknown},
        )
    try:
        Attachment.model_validate(entry)
    except ValidationError as error:
        raise invalid_request_from(error, prefix=field) from error
    except InvalidRequest as error:  # the send body's checks name `attachments`, or nothing
        raise InvalidRequest(
            error.message, reason=error.reason, context={**error.context, "field": field}
        ) from error
