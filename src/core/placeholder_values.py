"""DreamFactory's placeholder values: what in a send body is text for `{name}`.

DreamFactory substitutes every top-level string of the request: the declared fields that say
what the mail says and who it is from (`MESSAGE_TEXT_FIELDS`), any other top-level scalar, and
`template_data`, which wins. Two fields are never text to insert: those naming files to attach
(`ATTACHMENT_REFERENCES`). Two fields of ours are a DreamFactory client's placeholder values
when given as a scalar (`PLACEHOLDER_WHEN_SCALAR`): such a client knows no `tags` or
`metadata`, so they are set aside before the body is parsed (`set_aside_scalars`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

PlaceholderValue = str | int | float | bool | None
Scalar = str | int | float | bool

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

# Fields of ours that a DreamFactory client may send as placeholder values: given as a scalar,
# they are one (DreamFactory substitutes every top-level string), not our field.
PLACEHOLDER_WHEN_SCALAR = ("tags", "metadata")


def set_aside_scalars(data: Any) -> tuple[Any, dict[str, Scalar]]:
    """The body without the `PLACEHOLDER_WHEN_SCALAR` fields given as scalars, and those."""
    scalars: dict[str, Scalar] = {}
    if isinstance(data, dict):
        scalars = {
            name: value
            for name in PLACEHOLDER_WHEN_SCALAR
            if isinstance(value := data.get(name), str | int | float | bool)
        }
        if scalars:
            data = {name: value for name, value in data.items() if name not in scalars}
    return data, scalars


def as_text(
    declared: Mapping[str, str],
    extra: Mapping[str, Any],
    set_aside: Mapping[str, Scalar],
    template_data: Mapping[str, JsonValue],
) -> dict[str, str]:
    """Every placeholder value as text: the `declared` message texts, the other top-level
    scalars (`extra`, then those `set_aside`), then `template_data`, which wins."""
    values: dict[str, str] = dict(declared)
    for key, value in extra.items():
        if key in ATTACHMENT_REFERENCES:
            continue  # files to attach, not text to insert
        if isinstance(value, str | int | float | bool):
            values[key] = str(value)
    for name, scalar in set_aside.items():
        values[name] = str(scalar)
    for key, value in template_data.items():
        values[key] = "" if value is None else str(value)
    return values


def as_given(
    texts: Mapping[str, str], extra: Mapping[str, Any], template_data: Mapping[str, JsonValue]
) -> dict[str, Any]:
    """The values a Jinja template sees: the `texts` (`as_text`'s), with every value as given
    (numbers stay numbers, lists and objects stay whole)."""
    values: dict[str, Any] = dict(texts)
    values.update(
        (key, value)
        for key, value in extra.items()
        if key not in ATTACHMENT_REFERENCES and isinstance(value, str | int | float | bool)
    )
    values.update(template_data)
    return values
