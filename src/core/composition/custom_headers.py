"""The caller's own header fields (a send body's `headers`): which names may be set, and what
a value may hold.

A header added here may say anything but who the message is from or to, how it is built, or
what it has been through: those fields are written by the composer (or by a relay, or a
signer) and a caller's copy would change routing, identity or the MIME structure. So names
are refused (400, reason `header_not_allowed`, the context naming the header), compared
without regard to case:

- the addressing and identity fields: From, Sender, To, Cc, Bcc, Reply-To, Return-Path,
  Subject (the body's fields say those), Message-ID, Date (Orig-Date), and every Resent-*
  field;
- the MIME structure: MIME-Version and every Content-* field;
- what relays and signers write: Received, DKIM-Signature, DomainKey-Signature, ARC-*,
  Authentication-Results, Received-SPF;
- List-Unsubscribe and List-Unsubscribe-Post, which `list_unsubscribe` writes (checked);
- X-SES-*: SES reads them as orders (which identity to send as, which configuration set).

A name must be an RFC 5322 field name (printable ASCII but the colon), given once. A value is
one line of text: no line break of any kind (CR, LF, U+2028...) and no control character but
TAB, checked on what is sent (after placeholders are filled in). Plain ASCII is written as it
is; anything else as RFC 2047 encoded words (`core.composition.headers`), so no value can end
its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.addresses import check_header_text
from core.errors import InvalidRequest

MAX_HEADERS = 20
# "Name: " fits the 78 characters a line should have.
MAX_NAME_LENGTH = 76
# Characters, before encoding; a plain value then always fits one 998-octet line.
MAX_VALUE_LENGTH = 900

# RFC 5322's field-name: printable ASCII (33 to 126) but the colon.
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")

RESERVED_NAMES = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "return-path",
        "subject",
        "message-id",
        "date",
        "orig-date",
        "mime-version",
        "received",
        "dkim-signature",
        "domainkey-signature",
        "authentication-results",
        "received-spf",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }
)
RESERVED_PREFIXES = ("content-", "resent-", "arc-", "x-ses-")


def check_headers(given: Any) -> dict[str, str]:
    """The `headers` of a send body, name by name, or a 400 naming the header at fault.

    Values are checked here as given, and again once placeholders are filled in
    (`check_value`)."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise InvalidRequest(
            "Invalid 'headers': expected an object of header names and values.",
            reason="invalid_header",
            context={"field": "headers"},
        )
    if len(given) > MAX_HEADERS:
        raise InvalidRequest(
            f"'headers' holds {len(given)} fields; a message may add at most {MAX_HEADERS}.",
            reason="too_many_headers",
            context={"field": "headers", "count": len(given), "limit": MAX_HEADERS},
        )
    seen: set[str] = set()
    checked: dict[str, str] = {}
    for name, value in given.items():
        check_name(name)
        if name.lower() in seen:
            raise InvalidRequest(
                f"The header '{name}' is given twice in 'headers' (names are case-insensitive).",
                reason="duplicate_header",
                context=_context(name),
            )
        seen.add(name.lower())
        if not isinstance(value, str):
            raise InvalidRequest(
                f"Invalid header '{name}': its value must be a string.",
                reason="invalid_header",
                context=_context(name),
            )
        checked[name] = check_value(name, value)
    return checked


def check_name(name: str) -> str:
    """`name` if a caller may add a field of that name, else a 400 naming it."""
    if not _FIELD_NAME.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        shown = name if name.isprintable() and len(name) <= MAX_NAME_LENGTH else repr(name[:80])
        raise InvalidRequest(
            f"Invalid header name {shown!r} in 'headers': a name is 1 to {MAX_NAME_LENGTH}"
            " printable ASCII characters, without spaces or ':'.",
            reason="invalid_header_name",
            context={"field": "headers", "header": shown},
        )
    lowered = name.lower()
    if lowered in ("list-unsubscribe", "list-unsubscribe-post"):
        raise _refused(name, f"'{name}' is written from 'list_unsubscribe'; set that instead")
    if lowered in RESERVED_NAMES or lowered.startswith(RESERVED_PREFIXES):
        raise _refused(
            name, f"'{name}' would change who the message is from or to, or how it is built"
        )
    return name


def check_value(name: str, value: str) -> str:
    """`value` if it can be the one line of field `name`, else a 400 naming the header."""
    field = f"headers.{name}"
    try:
        check_header_text(value, field)
    except InvalidRequest as error:
        raise InvalidRequest(
            f"Invalid value for header '{name}': {error.message.partition(': ')[2]}",
            reason=error.reason,
            context=_context(name),
        ) from None
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidRequest(
            f"The value of header '{name}' is {len(value)} characters; at most"
            f" {MAX_VALUE_LENGTH} are allowed.",
            reason="header_too_long",
            context={**_context(name), "limit": MAX_VALUE_LENGTH},
        )
    return value


def _refused(name: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"The header '{name}' cannot be set in 'headers': {why}.",
        reason="header_not_allowed",
        context=_context(name),
    )


def _context(name: str) -> dict[str, str]:
    return {"field": f"headers.{name}", "header": name}
