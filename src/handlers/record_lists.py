"""DreamFactory's list parameters on the system resources (`email_template`, `service`, `role`,
`api_key`): one declaration for their routes' documents, one reading of the request, one answer.

As df-system's `BaseSystemResource::handleGET` takes them (df-core `ApiOptions` names them):
`filter`, `ids`, `fields`, `limit`, `offset`, `order` (and its aliases `sort`, `order_by`,
`skip` for `offset`, as df-core's `DbRequestCriteria::getSelectionCriteria` reads them),
`include_count` (adds `meta.count`) and `count_only` (answers the number alone). DreamFactory's
other options (`group`, `having`, `include_schema`, `as_list`, ...) are refused, naming the
option, never silently ignored: a script asking for them would get an answer that is not what
it asked for. Parameters that are not DreamFactory's are ignored, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Protocol

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from core.errors import InvalidRequest
from core.record_query.fields import RecordFields
from core.record_query.query import RecordQuery, select, shape, shown_fields


def _blank_is_absent(value: Any) -> Any:
    # DreamFactory skips an empty option (`!empty($ids)`; an empty filter selects all):
    # clients send `?filter=` for "none". Numbers and flags stay strict (a 400 when empty),
    # as the document's integer and boolean say.
    return None if value == "" else value


# true/false, 1/0, yes/no, on/off, t/f, y/n in any case, as df-core's to_bool reads them.
Flag = bool
Text = Annotated[str | None, BeforeValidator(_blank_is_absent)]


FILTER = (
    "DreamFactory's SQL-like filter on the record's fields: `name='welcome'`, `name=welcome`, "
    "`id>3`, `(name like '%invite%') or (description contains 'x')`, `id in (1,2)`, "
    "`description is null`, with `=`, `!=`/`<>`, `<`, `<=`, `>`, `>=`, `like`, `not like`, "
    "`contains`, `starts with`, `ends with`, `in`, `not in`, `is [not] null`, `and`, `or`, "
    "`not` and parentheses. A filter that cannot be read, or names no field, is a 400."
)


class ListParameters(BaseModel):
    """A list's query parameters, as DreamFactory's clients send them."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    filter: Text = Field(default=None, description=FILTER)
    ids: Text = Field(
        default=None,
        description="Only these records, by identifier (`ids=1,2`): `id`, or `name` where the "
        "records have no id. An identifier that selects nothing is a 404.",
    )
    fields: Text = Field(
        default=None,
        description="Only these fields of each record (`fields=id,name`); `*` for all.",
    )
    limit: int = Field(default=0, ge=0, description="At most this many records; 0: all.")
    offset: int = Field(default=0, ge=0, description="Skip this many records first.")
    skip: int = Field(default=0, ge=0, description="DreamFactory's alias of `offset`.")
    order: Text = Field(
        default=None,
        description="`field [asc|desc]`, comma-separated (`order=name desc,id`). By default "
        "as listed without it.",
    )
    sort: Text = Field(default=None, description="DreamFactory's alias of `order`.")
    order_by: Text = Field(default=None, description="DreamFactory's alias of `order`.")
    include_count: Flag = Field(
        default=False,
        description="`true`: add `meta.count`, how many records the filter selects before "
        "`offset` and `limit`.",
    )
    count_only: Flag = Field(
        default=False, description="`true`: answer that number alone, as a JSON number."
    )
    related: Text = Field(
        default=None,
        description="Related records, as DreamFactory names them; only those that are always "
        "empty here are accepted (answered `[]`), any other is a 400.",
    )
    refresh: Flag = Field(
        default=False, description="Accepted for DreamFactory's admin interface; nothing is cached."
    )


class RecordParameters(BaseModel):
    """One record's query parameters (`GET .../{id}`)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    fields: Text = Field(
        default=None, description="Only these fields (`fields=id,name`); `*` for all."
    )
    related: Text = Field(
        default=None,
        description="Related records, as DreamFactory names them; only those that are always "
        "empty here are accepted (answered `[]`), any other is a 400.",
    )


ListQuery = Annotated[ListParameters, Query()]
RecordQueryParameters = Annotated[RecordParameters, Query()]

# df-core ApiOptions: every option (and alias) DreamFactory's system resources might take.
DREAMFACTORY_OPTIONS = frozenset(
    {
        *("fields", "select", "filter", "where", "ids", "limit", "top", "offset", "skip"),
        *("order", "sort", "order_by", "group", "group_by", "having", "related", "params"),
        *("include_count", "count_only", "include_schema", "include_access", "as_list"),
        *("as_access_list", "id_field", "id_type", "continue", "rollback", "file", "refresh"),
        *("allow_related_delete", "regenerate", "schema", "force", "send_invite"),
    }
)
LIST_OPTIONS = frozenset(ListParameters.model_fields)
RECORD_OPTIONS = frozenset(RecordParameters.model_fields)


class Shown(Protocol):
    def public(self) -> dict[str, Any]: ...


def list_answer(
    router: BaseRouter,
    parameters: ListParameters,
    records: Iterable[Shown],
    fields: RecordFields,
    *,
    empty_relations: frozenset[str] = frozenset(),
) -> dict[str, Any] | int:
    """DreamFactory's list answer: `{"resource": [...]}` (with `meta.count` if asked), or
    the count alone."""
    refuse_unsupported(router, LIST_OPTIONS)
    relations = _relations(parameters.related, empty_relations)
    selection = select(
        [record.public() for record in records],
        RecordQuery(
            filter=parameters.filter,
            ids=parameters.ids,
            fields=parameters.fields,
            order=_one_of(parameters, "order", "sort", "order_by"),
            limit=parameters.limit,
            offset=_offset(parameters),
        ),
        fields,
    )
    if parameters.count_only:
        return selection.count
    answer: dict[str, Any] = {"resource": [{**record, **relations} for record in selection.records]}
    if parameters.include_count:
        answer["meta"] = {"count": selection.count}
    return answer


def record_answer(
    router: BaseRouter,
    parameters: RecordParameters,
    record: Shown,
    fields: RecordFields,
    *,
    empty_relations: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """One record, with only the `fields` asked for."""
    refuse_unsupported(router, RECORD_OPTIONS)
    relations = _relations(parameters.related, empty_relations)
    return {**shape(record.public(), shown_fields(parameters.fields, fields)), **relations}


def refuse_unsupported(router: BaseRouter, supported: frozenset[str]) -> None:
    """400 `unsupported_parameter` for a DreamFactory option this route does not apply."""
    given: Mapping[str, str] = router.current_event.query_string_parameters or {}
    unsupported = sorted(name for name in given if name in DREAMFACTORY_OPTIONS - supported)
    if unsupported:
        raise InvalidRequest(
            f"DreamFactory's '{unsupported[0]}' parameter is not supported here; "
            f"this resource takes {', '.join(sorted(supported))}.",
            reason="unsupported_parameter",
            context={"parameters": unsupported},
        )


def _relations(related: str | None, empty_relations: frozenset[str]) -> dict[str, list[Any]]:
    """The relations asked for, each `[]`: only those this API never has records of."""
    if related is None:
        return {}
    names = [name.strip() for name in related.split(",") if name.strip()]
    unknown = [name for name in names if name not in empty_relations]
    if unknown:
        offered = ", ".join(sorted(empty_relations)) or "none"
        raise InvalidRequest(
            f"Related records '{unknown[0]}' are not supported here (supported: {offered}).",
            reason="unsupported_parameter",
            context={"parameters": ["related"], "related": unknown},
        )
    return {name: [] for name in names}


def _one_of(parameters: ListParameters, *names: str) -> str | None:
    given = {name: getattr(parameters, name) for name in names}
    chosen = {name: value for name, value in given.items() if value is not None}
    if len(chosen) > 1:
        raise InvalidRequest(
            f"Give one of {', '.join(names)}: they are the same parameter.",
            reason="invalid_order",
            context={"parameters": sorted(chosen)},
        )
    return next(iter(chosen.values()), None)


def _offset(parameters: ListParameters) -> int:
    if not parameters.skip:
        return parameters.offset
    if parameters.offset:
        raise InvalidRequest(
            "Give one of offset, skip: they are the same parameter.",
            reason="invalid_offset",
            context={"parameters": ["offset", "skip"]},
        )
    return parameters.skip
