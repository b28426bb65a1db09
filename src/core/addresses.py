"""Mailboxes: an address with an optional display name, validated by email-validator."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import Field

from core.errors import InvalidRequest

# CR and LF, and every other character `str.splitlines()` breaks at: the email package
# refuses a header value containing any of them (a 500), so they are the caller's 400.
_LINE_BREAKS = ("\r", "\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


# How the OpenAPI document shows an address that `parse_mailbox` checks: JSON Schema's "email"
# (an ASCII mailbox, as without SMTPUTF8); an optional sender may also be "" or null (unset).
EmailAddress = Annotated[str, Field(json_schema_extra={"format": "email"})]
OptionalEmailAddress = EmailAddress | Literal[""] | None


@dataclass(frozen=True)
class Mailbox:
    """A validated address (ASCII, ready for the SMTP envelope) and its display name."""

    email: str
    name: str = ""


def reject_line_breaks(value: str, field: str) -> str:
    """Refuse CR or LF in anything that ends up in a header: it would start a new header."""
    if any(ch in value for ch in _LINE_BREAKS):
        raise InvalidRequest(
            f"Invalid value for '{field}': line breaks are not allowed in header fields.",
            reason="header_injection",
            context={"field": field},
        )
    return value


def check_header_text(value: str, field: str) -> str:
    """Header text: no line break, and no other control character but TAB (NUL and friends:
    receivers disagree on what they do to a header line)."""
    reject_line_breaks(value, field)
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in value):
        raise InvalidRequest(
            f"Invalid value for '{field}': control characters are not allowed in header fields.",
            reason="invalid_character",
            context={"field": field},
        )
    return value


def parse_mailbox(email: str, name: str | None, field: str) -> Mailbox:
    """Validate one address (syntax only: no DNS) and its display name."""
    check_header_text(email, field)
    check_header_text(name or "", field)
    if "=?" in email:
        # Legal atext, but mail clients decode an encoded word wherever they see one: the
        # address shown would not be the address mail goes to.
        raise InvalidRequest(
            f"Invalid email - '{email}': '=?' (an encoded word) is not allowed in an address.",
            reason="invalid_address",
            context={"field": field},
        )
    try:
        # No SMTPUTF8: not every relay speaks it, and an internationalized domain still
        # works because email-validator hands back its ASCII (IDNA) form.
        checked = validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise InvalidRequest(
            f"Invalid email - '{email}'.",
            reason="invalid_address",
            context={"field": field, "detail": str(error)},
        ) from error
    return Mailbox(email=checked.ascii_email or checked.normalized, name=(name or "").strip())
