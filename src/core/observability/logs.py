"""Every log line: JSON (Powertools), with the ids that tie it to a request and a message,
and with no address beyond its domain.

The redaction rule, for whoever writes a log line: no body, no secret (password, token,
client secret), and an address only as its domain. The serializer below enforces the last
one on every line, whatever a line (or a traceback, or a server's reply) carries: any
`local@domain` becomes `***@domain`. Message-IDs look like addresses and name nobody: the
keys in `_NOT_ADDRESSES` keep theirs, so a line can be matched with the server's logs.
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.exceptions import OrphanedChildLoggerError

# An address's local part, as RFC 5322's dot-atom allows it, before an `@` and a domain.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?=[A-Za-z0-9-])")
_MASK = "***@"
_NOT_ADDRESSES = frozenset({"message_id"})


def redacted(value: Any) -> Any:
    """`value` with every address in its strings cut down to `***@domain`, at any depth."""
    if isinstance(value, str):
        return _ADDRESS.sub(_MASK, value)
    if isinstance(value, dict):
        return {
            key: item if key in _NOT_ADDRESSES else redacted(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def redacted_json(line: dict[str, Any]) -> str:
    """A log line as JSON, redacted (Powertools' serializer: `Logger(json_serializer=...)`)."""
    # Compact, as Powertools' own serializer writes a line.
    return json.dumps(
        redacted(line), default=lambda other: redacted(str(other)), separators=(",", ":")
    )


def service_logger() -> Logger:
    """An entry point's logger. The first one a process makes sets the format every logger
    of the service (core's children too) writes with, so every entry point makes it here."""
    return Logger(json_serializer=redacted_json)


def correlate(**ids: str | None) -> None:
    """Name these ids on every log line until the invocation ends (the entry points' loggers
    clear them as the next one starts); an id that is None is left out."""
    # Without an entry point's logger (core called alone) there is no line to tag.
    with suppress(OrphanedChildLoggerError):
        Logger(child=True).append_keys(**{name: value for name, value in ids.items() if value})
