"""How a request names a stored template: by name, or by DreamFactory's numeric id.

DreamFactory tests both with PHP's `empty()`, so `0`, `"0"` and `""` name no template, and an
id may come as digits in text (from a form, or the query string).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from core.validation import NUMBER_ONLY


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
