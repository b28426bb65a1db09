"""A list request's selection: DreamFactory's `filter`, `ids`, `order`, `offset`, `limit`,
`fields` and count, applied to records' JSON views (df-system `BaseSystemResource::handleGET`,
df-core `BaseModel::selectByRequest`/`selectByIds`/`countByRequest`).

In df-core's order: `ids` and `filter` select (both when both are given), the count is taken
of what they select, then `order`, `offset` and `limit` cut the page, and `fields` shapes
each record. Without `order`, records keep the order they come in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidRequest, NotFound
from core.record_query.evaluate import Predicate, Record, compile_filter, matches
from core.record_query.fields import Kind, RecordFields
from core.record_query.syntax import parse

ALL_FIELDS = "*"


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class RecordQuery:
    """What a list request asks for, as given (text, as DreamFactory's clients write it)."""

    filter: str | None = None
    ids: str | None = None
    fields: str | None = None
    order: str | None = None
    limit: int = 0  # 0: no limit (df-core: below 1 means its maximum)
    offset: int = 0


@dataclass(frozen=True)
class Selection:
    records: list[dict[str, Any]]
    # How many records `filter` and `ids` select, before `offset` and `limit`.
    count: int


@dataclass(frozen=True)
class _Plan:
    predicate: Predicate | None
    ids: tuple[str, ...] | None
    order: tuple[OrderKey, ...]
    fields: tuple[str, ...] | None


def select(records: Sequence[Record], query: RecordQuery, fields: RecordFields) -> Selection:
    """The records `query` selects, ordered, cut and shaped; a 400 for a query naming what
    the records do not have, a 404 for an id in `ids` that selects nothing."""
    plan = _plan(query, fields)
    chosen = [record for record in records if _selected(record, plan, fields)]
    if plan.ids is not None:
        _all_found(chosen, plan.ids, fields.identifier)
    for key in reversed(plan.order):  # stable sorts, last key first
        chosen.sort(key=_sort_key(key.field), reverse=key.descending)
    page = chosen[query.offset :]
    if query.limit > 0:
        page = page[: query.limit]
    return Selection([shape(record, plan.fields) for record in page], count=len(chosen))


def shown_fields(fields_text: str | None, fields: RecordFields) -> tuple[str, ...] | None:
    """The fields `fields_text` names (`fields=id,name`), or None for all (`*` or none)."""
    if fields_text is None:
        return None
    names = tuple(name.strip() for name in fields_text.split(",") if name.strip())
    if not names or ALL_FIELDS in names:
        return None
    unknown = [name for name in names if fields.kind(name) is None]
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) in 'fields': {', '.join(unknown)}. "
            f"Fields: {', '.join(fields.kinds)}.",
            reason="invalid_fields",
            context={"fields": unknown},
        )
    return names


def shape(record: Record, names: tuple[str, ...] | None) -> dict[str, Any]:
    """`record` with only the fields `names` lists (all of them for None)."""
    if names is None:
        return dict(record)
    return {name: record.get(name) for name in names}


def _plan(query: RecordQuery, fields: RecordFields) -> _Plan:
    predicate = None
    if query.filter is not None:
        predicate = compile_filter(parse(query.filter), fields)
    return _Plan(
        predicate=predicate,
        ids=_ids(query.ids),
        order=_order(query.order, fields),
        fields=shown_fields(query.fields, fields),
    )


def _ids(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    if not ids:
        raise InvalidRequest("'ids' lists no identifier.", reason="invalid_ids")
    return ids


def _order(text: str | None, fields: RecordFields) -> tuple[OrderKey, ...]:
    if text is None or not text.strip():
        # The records' own order: templates by id, as df-core's "$pk asc"; services and
        # roles by name, keys as made (their random ids would give no useful order).
        return ()
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        name = words[0]
        direction = words[1].lower() if len(words) > 1 else "asc"
        if len(words) > 2 or direction not in ("asc", "desc"):
            raise _bad_order(f"'{part.strip()}' is not 'field', 'field asc' or 'field desc'.")
        kind = fields.kind(name)
        if kind is None:
            raise _bad_order(f"Unknown field '{name}'. Fields: {', '.join(fields.kinds)}.", name)
        if kind is Kind.STRUCTURED:
            raise _bad_order(f"Field '{name}' holds an object or a list: no order by it.", name)
        keys.append(OrderKey(name, descending=direction == "desc"))
    return tuple(keys)


def _bad_order(problem: str, field_name: str | None = None) -> InvalidRequest:
    context = {"field": field_name} if field_name else None
    return InvalidRequest(f"Invalid 'order': {problem}", reason="invalid_order", context=context)


def _selected(record: Record, plan: _Plan, fields: RecordFields) -> bool:
    if plan.ids is not None and str(record.get(fields.identifier)) not in plan.ids:
        return False
    return plan.predicate is None or matches(plan.predicate, record)


def _all_found(chosen: list[Record], ids: tuple[str, ...], identifier: str) -> None:
    # df-core's selectByIds fails the request when an id selects nothing.
    found = {str(record.get(identifier)) for record in chosen}
    missing = [identifier_value for identifier_value in ids if identifier_value not in found]
    if missing:
        raise NotFound(
            f"Record with identifier '{missing[0]}' not found.",
            reason="record_not_found",
            context={"ids": missing},
        )


def _sort_key(field_name: str) -> Callable[[Record], tuple[int, Any]]:
    def key(record: Record) -> tuple[int, Any]:
        # Nulls first ascending (MySQL's and SQLite's order); then numbers, then text.
        value = record.get(field_name)
        if value is None:
            return (0, 0)
        if isinstance(value, bool | int | float):
            return (1, value)
        return (2, str(value))

    return key
