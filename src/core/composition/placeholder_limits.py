"""How many placeholder values a request may bring, and how much they may weigh together.

Every value is held, looked up and counted before anything is rendered; without a cap a
request of 10,000 values was 10,000 entries to build and (before rendering was one pass) to
try at every brace. The values counted are the caller's own: `template_data` and the other
top-level scalars that act as values (a Jinja template's lists and objects by their JSON).
The message fields that are values too (`subject`, `body_text`, ...) are held to the message
size limit instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest, MessageTooLarge
from core.placeholder_values import ATTACHMENT_REFERENCES
from core.send_request import SendRequest
from core.settings import DEFAULT_MAX_PLACEHOLDER_BYTES, DEFAULT_MAX_PLACEHOLDER_VALUES, Settings


@dataclass(frozen=True)
class PlaceholderLimits:
    max_values: int = DEFAULT_MAX_PLACEHOLDER_VALUES
    max_bytes: int = DEFAULT_MAX_PLACEHOLDER_BYTES  # names and values, UTF-8

    @classmethod
    def from_settings(cls, settings: Settings) -> PlaceholderLimits:
        return cls(settings.max_placeholder_values, settings.max_placeholder_bytes)

    def check(self, request: SendRequest) -> None:
        """400 `too_many_placeholder_values` or 413 `placeholder_values_too_large`."""
        values = _caller_values(request)
        if len(values) > self.max_values:
            raise InvalidRequest(
                f"{len(values)} placeholder values is more than the {self.max_values} a"
                " request may bring ('template_data' and other top-level values together).",
                reason="too_many_placeholder_values",
                context={"values": len(values), "limit": self.max_values},
            )
        size = sum(len(key.encode()) + len(value.encode()) for key, value in values.items())
        if size > self.max_bytes:
            raise MessageTooLarge(
                f"The placeholder values are {size} bytes; a request may bring at most"
                f" {self.max_bytes}.",
                reason="placeholder_values_too_large",
                context={"size": size, "limit": self.max_bytes},
            )


def _caller_values(request: SendRequest) -> dict[str, str]:
    """The values only the caller's extra fields and `template_data` bring, by name."""
    values = {
        key: str(value)
        for key, value in (request.model_extra or {}).items()
        if key not in ATTACHMENT_REFERENCES and isinstance(value, str | int | float | bool)
    }
    values.update({key: _as_text(value) for key, value in request.template_data.items()})
    return values


def _as_text(value: Any) -> str:
    # A list or object (for a Jinja template) weighs what its JSON does.
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else str(value)
