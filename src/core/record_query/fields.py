"""What a record's fields hold, read from its pydantic model: what a filter compares them as,
and what `fields` and `order` may name."""

from __future__ import annotations

import types
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel


class Kind(StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    # Objects and lists: shown, but neither compared nor ordered by (`is null` only).
    STRUCTURED = "structured"
    # Whatever the record holds (a template's `to`: text, or a list): compared as it is.
    ANY = "any"


@dataclass(frozen=True)
class RecordFields:
    """The fields a record shows, with their kinds, and the one its `ids` name."""

    kinds: dict[str, Kind]

    @classmethod
    def of(cls, model: type[BaseModel], hidden: frozenset[str] = frozenset()) -> RecordFields:
        """The public fields of `model` (less `hidden`)."""
        return cls(
            {
                name: _kind(info.annotation)
                for name, info in model.model_fields.items()
                if name not in hidden
            }
        )

    @property
    def identifier(self) -> str:
        """The field `ids` lists: `id` where records have one, else their `name`."""
        return "id" if "id" in self.kinds else "name"

    def kind(self, field: str) -> Kind | None:
        return self.kinds.get(field)


def _kind(annotation: Any) -> Kind:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_kind(arg) for arg in get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else Kind.ANY
    if origin is not None:  # list[...], dict[...]
        return Kind.STRUCTURED
    if annotation is Any:
        return Kind.ANY
    if isinstance(annotation, type):
        if issubclass(annotation, bool):  # before int: a bool is an int to Python
            return Kind.BOOLEAN
        if issubclass(annotation, int):
            return Kind.INTEGER
        if issubclass(annotation, float):
            return Kind.NUMBER
        if issubclass(annotation, str | Enum):
            return Kind.TEXT
    return Kind.STRUCTURED
