"""The send body's address fields, in the forms DreamFactory takes them.

A recipient field (`to`, `cc`, `bcc`) may be an address, an object `{email, name}`, or a list
of either; a sender's address (`from_email`, `reply_to_email`) is one address or unset. Each
becomes validated mailboxes (`core.addresses`), or a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, BeforeValidator

from core.addresses import EmailAddress, Mailbox, OptionalEmailAddress, parse_mailbox
from core.errors import InvalidRequest


class RecipientObject(BaseModel):
    """DreamFactory's object form of a recipient."""

    email: EmailAddress
    name: str | None = None


# DreamFactory accepts a string, an object, or a list of either.
RecipientInput = EmailAddress | RecipientObject | list[EmailAddress | RecipientObject]


def recipient_list(field: str) -> BeforeValidator:
    """Parses `to`, `cc` or `bcc` in any of DreamFactory's forms into mailboxes (none: [])."""

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


def optional_address(field: str) -> BeforeValidator:
    """Parses a sender's address (`from_email`, `reply_to_email`); empty or null: unset."""

    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str):
            raise InvalidRequest(f"Invalid '{field}': must be a string.", context={"field": field})
        return parse_mailbox(value, None, field).email

    return BeforeValidator(parse, json_schema_input_type=OptionalEmailAddress)
