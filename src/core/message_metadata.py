"""A send's `metadata`: a small map of the sender's own strings, kept with the message.

It is stored on the message's status record, shown by every lookup and list of messages, and
put in the message events (and so the webhooks) that follow; it never reaches the message's
headers, except as SES message tags for a service that asks for them
(`core.ses_message_tags`). So the limits below keep a record small, and a key is a name a
program can match (`order_id`, `tenant.region`), not text:

- at most `MAX_KEYS` keys, each 1 to `MAX_KEY_LENGTH` of `[A-Za-z0-9_.:-]`;
- each value a string of at most `MAX_VALUE_LENGTH` characters, without control characters
  (a line break in a record or a webhook's payload helps nobody);
- at most `MAX_TOTAL_BYTES` of UTF-8 for keys and values together.

A refusal is a 400 (`invalid_metadata`) naming the key at fault in its context.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from core.errors import InvalidRequest

MAX_KEYS = 10
MAX_KEY_LENGTH = 40
MAX_VALUE_LENGTH = 256
MAX_TOTAL_BYTES = 2048
KEY_PATTERN = rf"^[A-Za-z0-9_.:-]{{1,{MAX_KEY_LENGTH}}}$"
_KEY = re.compile(KEY_PATTERN)

# What `metadata` may be, for the document: the map, or (a DreamFactory client's) a
# placeholder value, as for `tags`.
METADATA_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "propertyNames": {"pattern": KEY_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
            "maxProperties": MAX_KEYS,
        },
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ],
    "description": f"Up to {MAX_KEYS} strings of your own by key (keys of 1 to {MAX_KEY_LENGTH}"
    f" letters, digits or `_.:-`; values of at most {MAX_VALUE_LENGTH} characters;"
    f" {MAX_TOTAL_BYTES} bytes in all), kept on the message's record, shown by its lookups and"
    " lists, and sent with its later events and webhooks; never put in the message's headers"
    " (but as SES message tags, for a service that sends them). A `metadata` that is no"
    " object is a placeholder value, as any top-level string is.",
    "examples": [{"order_id": "A-1001", "tenant": "acme"}],
}


def check_metadata(given: Any) -> dict[str, str]:
    """The `metadata` of a send body, key by key, or a 400 naming the key at fault."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise _invalid("'metadata' must be an object of keys and string values.")
    if len(given) > MAX_KEYS:
        raise _invalid(
            f"'metadata' holds {len(given)} keys; a message may have at most {MAX_KEYS}.",
            count=len(given),
            limit=MAX_KEYS,
        )
    total = 0
    for key, value in given.items():
        if not isinstance(key, str) or not _KEY.match(key):
            shown = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise _invalid(
                f"Invalid metadata key {shown[: MAX_KEY_LENGTH + 10]!r}: a key is 1 to"
                f" {MAX_KEY_LENGTH} letters, digits, '_', '.', ':' or '-'.",
                key=shown[: MAX_KEY_LENGTH + 10],
            )
        _check_value(key, value)
        total += len(key.encode()) + len(value.encode())
    if total > MAX_TOTAL_BYTES:
        raise _invalid(
            f"'metadata' is {total} bytes (keys and values in UTF-8); at most"
            f" {MAX_TOTAL_BYTES} are allowed.",
            size=total,
            limit=MAX_TOTAL_BYTES,
        )
    return dict(given)


def _check_value(key: str, value: Any) -> None:
    if not isinstance(value, str):
        raise _invalid(f"The metadata value of '{key}' must be a string.", key=key)
    if len(value) > MAX_VALUE_LENGTH:
        raise _invalid(
            f"The metadata value of '{key}' is {len(value)} characters; at most"
            f" {MAX_VALUE_LENGTH} are allowed.",
            key=key,
            limit=MAX_VALUE_LENGTH,
        )
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise _invalid(
            f"The metadata value of '{key}' holds a control character (a line break, a tab...).",
            key=key,
        )


def _invalid(message: str, **context: Any) -> InvalidRequest:
    key = context.pop("key", None)
    field = f"metadata.{key}" if key is not None else "metadata"
    named = {"key": key} if key is not None else {}
    return InvalidRequest(
        message, reason="invalid_metadata", context={"field": field, **named, **context}
    )
