"""A stored email template, with DreamFactory's fields.

A send that names a template (`template` or `template_id`) starts from it: its fields fill in
what the request leaves out, and its `defaults` are placeholder values the request may
override (see `core.composition.compose.merged_body` for the order).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.address_fields import RecipientInput
from core.addresses import OptionalEmailAddress
from core.errors import InvalidRequest
from core.send_request import TemplateSyntax
from core.validation import shown_as

# DreamFactory keeps a name in a column of 64 characters of any kind (df-core's migration
# `2015_01_27_190908_create_system_tables.php`, `$t->string('name', 64)`), and every instance
# ships "User Invite Default" and two more with spaces. Here a name is text of up to 128
# characters (so every DreamFactory name fits, and names stored before stay valid) without
# control characters or line breaks (they would break the log line, the path and the audit
# trail they are written into), and without space at either end (" x" and "x" would be two
# templates that look alike). All digits is refused where a name is created: it reads as an
# id in `/api/v2/system/email_template/{id_or_name}`.
MAX_TEMPLATE_NAME = 128
_UNPRINTABLE = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
TEMPLATE_NAME = re.compile(rf"^[^\s{_UNPRINTABLE}](?:[^{_UNPRINTABLE}]*[^\s{_UNPRINTABLE}])?$")

# The fields a template gives a message, as DreamFactory's send body names them.
MESSAGE_FIELDS = (
    "to",
    "cc",
    "bcc",
    "subject",
    "body_text",
    "body_html",
    "from_name",
    "from_email",
    "reply_to_name",
    "reply_to_email",
    "headers",
    "list_unsubscribe",
)

PlaceholderDefault = str | int | float | bool | None

# DreamFactory's admin interface posts every field of its form, the ones left empty as `""`
# (df-admin-interface `df-email-template-details.component.ts`, `onSubmit`): not set.
_BLANK_MEANS_UNSET = (*MESSAGE_FIELDS, "description", "attachment")
_RECIPIENT_FIELDS = ("to", "cc", "bcc")


class AttachmentEntry(BaseModel):
    """DreamFactory's inline attachment: a file's name and its content in base64."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1)]
    content: Annotated[str, Field(json_schema_extra={"contentEncoding": "base64"})]
    content_type: str | None = None
    # Not DreamFactory's: an inline part, as in a send body's `attachments`.
    content_id: str | None = None
    disposition: Literal["attachment", "inline"] | None = None


# DreamFactory's `attachment`: a URL or path (several separated by commas), an inline entry,
# or a list of either; checked by `core.templates.input.check_attachment`.
AttachmentInput = str | AttachmentEntry | list[str | AttachmentEntry]


class TemplateFields(BaseModel):
    """What a template holds besides its identity; every field optional, as in DreamFactory.
    Recipients and attachments are kept in the send body's own forms and checked when a
    message is sent with them (with the request they are merged into)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _as_dreamfactory_stores_it(cls, data: Any) -> Any:
        return dreamfactory_form(data) if isinstance(data, dict) else data

    description: str | None = None
    # Recipients and addresses are checked as a send body's (`core.templates.input`).
    to: Annotated[Any, shown_as(RecipientInput | None)] = None
    cc: Annotated[Any, shown_as(RecipientInput | None)] = None
    bcc: Annotated[Any, shown_as(RecipientInput | None)] = None
    subject: str | None = None
    body_text: str | None = None
    body_html: str | None = None
    from_name: str | None = None
    from_email: Annotated[str | None, shown_as(OptionalEmailAddress)] = None
    reply_to_name: str | None = None
    reply_to_email: Annotated[str | None, shown_as(OptionalEmailAddress)] = None
    # Not DreamFactory's: as a send body's, checked as it checks them; the request's replace
    # them (a per-recipient unsubscribe token is a placeholder value the request brings).
    headers: Annotated[dict[str, str] | None, shown_as(dict[str, str] | None)] = None
    list_unsubscribe: Annotated[Any, shown_as(str | list[str] | None)] = None
    # Not DreamFactory's: `"jinja"` makes the template's texts Jinja2 templates; a send keeps
    # that syntax unless it names another (`template_syntax` in its body).
    template_syntax: TemplateSyntax | None = Field(
        default=None,
        description='`"jinja"`: the texts are Jinja2 templates (checked when saved); left out or'
        ' `"placeholders"`: DreamFactory\'s `{name}`.',
    )
    # Placeholder values the request may override.
    defaults: dict[Annotated[str, Field(min_length=1)], PlaceholderDefault] = Field(
        default_factory=dict
    )
    # DreamFactory's `attachment`: used when the request brings none.
    attachment: Annotated[Any, shown_as(AttachmentInput | None)] = None

    def message_fields(self) -> dict[str, Any]:
        """The template's contribution to a send body: the fields it sets."""
        fields = {name: getattr(self, name) for name in MESSAGE_FIELDS}
        if self.attachment is not None:
            fields["attachment"] = self.attachment
        return {name: value for name, value in fields.items() if value is not None}


# What the API shows of a template, and what the examples of its bodies are made from.
EXAMPLE: dict[str, Any] = {
    "name": "order_shipped",
    "description": "Sent when an order leaves the warehouse",
    "subject": "Your order {order_id} has shipped",
    "body_text": "Hello {first_name}, your order {order_id} is on its way.",
    "body_html": "<p>Hello {first_name}, your order <b>{order_id}</b> is on its way.</p>",
    "from_name": "Example Shop",
    "from_email": "shop@example.com",
    "reply_to_email": "support@example.com",
    "defaults": {"first_name": "customer"},
}


class EmailTemplate(TemplateFields):
    """A stored template: DreamFactory's record."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    **EXAMPLE,
                    "to": None,
                    "cc": None,
                    "bcc": None,
                    "reply_to_name": None,
                    "attachment": None,
                    "created_date": "2026-11-30T12:00:00+00:00",
                    "last_modified_date": "2026-11-30T12:00:00+00:00",
                }
            ]
        }
    )

    id: int
    name: str
    created_date: str = ""
    last_modified_date: str = ""

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        return valid_template_name(name)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def valid_template_name(name: str) -> str:
    if len(name) > MAX_TEMPLATE_NAME or not TEMPLATE_NAME.fullmatch(name):
        raise InvalidRequest(
            f"Invalid template name {name!r}: use 1-{MAX_TEMPLATE_NAME} characters, no control"
            " characters or line breaks, and no space at either end.",
            reason="invalid_template_name",
            context={"field": "name"},
        )
    return name


def dreamfactory_form(fields: dict[str, Any]) -> dict[str, Any]:
    """A template's fields as DreamFactory's clients send them, in the form kept here: `""`
    is not set (`defaults` too), and `to`, `cc` or `bcc` as one string of comma-separated
    addresses (DreamFactory's stored form: df-core `EmailTemplate::getJSONIfArray`) is the
    list of them."""
    given = dict(fields)
    for field in _BLANK_MEANS_UNSET:
        if given.get(field) == "":
            given[field] = None
    if given.get("defaults") in ("", None) and "defaults" in given:
        given["defaults"] = {}
    for field in _RECIPIENT_FIELDS:
        value = given.get(field)
        if isinstance(value, str) and "," in value:
            given[field] = split_addresses(value)
    return given


def split_addresses(text: str) -> list[str]:
    """`a@example.com, b@example.com` as its addresses, each trimmed, empty ones left out (a
    recipient given as a string is a bare address: no display name, so no comma of its own)."""
    return [part.strip() for part in text.split(",") if part.strip()]
