"""DreamFactory's batches on the system resources: create, update and delete record by record.

As df-core's `BaseModel::bulkCreate`, `bulkUpdate` and `bulkDelete` do, the records are taken in
order and the batch stops at the first one that fails, unless `continue=true` asks to go on;
what was done before stays done (and on the audit trail, which each record's own route writes).
A failed batch answers with its first failure, and DreamFactory's `BatchException` context
(see `handlers.batch_failure`). `rollback=true` asks for a transaction across records, which
these tables do not have: a 400, never a silent "no".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from core.access.audit import audit
from core.access.authentication import Principal
from core.errors import EmailApiError, InvalidRequest
from handlers.batch_failure import failed_batch
from handlers.request_bodies import Records
from handlers.responses import json_response

Item = TypeVar("Item")
Record = TypeVar("Record", bound="Named")
Patch = TypeVar("Patch")


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Shown(Protocol):
    def public(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class BatchOptions:
    """DreamFactory's batch query options: `continue` goes on past a failed record."""

    keep_going: bool = False


def apply_each(
    items: Sequence[Item],
    apply: Callable[[Item], dict[str, Any]],
    options: BatchOptions = BatchOptions(),
) -> list[dict[str, Any]]:
    """Each item's outcome, in order; a failure stops the batch (or not, with `keep_going`),
    and raises the first failure with every outcome so far in its context."""
    outcomes: list[dict[str, Any] | EmailApiError] = []
    for item in items:
        try:
            outcomes.append(apply(item))
        except EmailApiError as error:
            outcomes.append(error)
            if not options.keep_going:
                break
    if any(isinstance(outcome, EmailApiError) for outcome in outcomes):
        raise failed_batch(outcomes)
    return [outcome for outcome in outcomes if not isinstance(outcome, EmailApiError)]


def create_each(
    principal: Principal,
    records: Records[Record],
    create: Callable[[Record], Shown],
    action: str,
) -> Response[str]:
    """Create the records in order; 201 with the one created, or with the batch as a batch."""

    def create_one(record: Record) -> dict[str, Any]:
        created = create(record).public()
        # At once: if a later record fails, the ones already created are still on the trail.
        audit(principal, action, record.name)
        return created

    if not records.batch:
        return json_response(201, create_one(records.items[0]))
    return json_response(201, {"resource": apply_each(records.items, create_one)})


# --- update and delete on the collection ----------------------------------------------------------


class BatchParameters(BaseModel):
    """The query options of a batch change or delete on a collection, as DreamFactory's
    clients send them: which records (`ids`), and how a failure is taken (`continue`).
    DreamFactory's `rollback`, `filter` and `fields` are refused by `options()`, never
    ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, defer_build=True)

    ids: str | None = Field(
        default=None,
        description="Comma-separated ids of the records to change or delete (DreamFactory's"
        " `ids`); a PATCH applies its one record to each.",
        examples=["1,2"],
    )
    keep_going: bool = Field(
        default=False,
        alias="continue",
        description="Go on past a record that fails (DreamFactory's `continue`); the answer"
        " is still the failure, naming each record's outcome.",
    )
    rollback: bool = Field(
        default=False, description="Not supported: records are changed one by one (a 400)."
    )
    filter: str | None = Field(
        default=None,
        description="Not supported on a batch change or delete (a 400, never ignored): name the"
        " records with `ids` or in the body.",
    )
    fields: str | None = Field(
        default=None,
        description="Not supported on a batch change or delete (a 400, never ignored): the"
        " answer is each record as changed, or what its own DELETE answers.",
    )

    def options(self) -> BatchOptions:
        """How to run the batch; a 400 for what DreamFactory offers and this does not."""
        if self.filter is not None:
            raise InvalidRequest(
                "'filter' is not supported on a batch change or delete: name the records in"
                " 'ids' or in the body.",
                reason="filter_not_supported",
            )
        if self.fields is not None:
            raise InvalidRequest(
                "'fields' is not supported on a batch change or delete: the answer is each"
                " record as changed, or what its own DELETE answers.",
                reason="unsupported_parameter",
            )
        if self.rollback:
            raise InvalidRequest(
                "rollback=true is not supported: records are changed one by one, and a failed"
                " batch answers which ones were (its context's 'resource').",
                reason="rollback_not_supported",
            )
        return BatchOptions(keep_going=self.keep_going)


BatchQuery = Annotated[BatchParameters, Query()]


@dataclass(frozen=True)
class Change(Generic[Patch]):
    """One record of a batch update: the id or name that picks it, and what changes."""

    key: str
    patch: Patch


def update_each(
    records: Records[dict[str, Any]],
    parameters: BatchParameters,
    update: Callable[[str, Patch], dict[str, Any]],
    prepare: Callable[[dict[str, Any], str], Patch],
    *,
    by_name: bool = True,
) -> Response[str]:
    """DreamFactory's batch update: each record by its `id` (else `name`), or the one record to
    each of `ids`; `prepare` checks a change (at its place in the body) before any is made."""
    options, ids = parameters.options(), parameters.ids
    if ids is not None:
        if records.batch and len(records.items) > 1:
            raise InvalidRequest(
                "With 'ids', send the one record to apply to each, not a batch of records."
            )
        keys = _split_ids(ids)
        patch = prepare(_without_id(records.items[0]), _place(records, 0))
        changes = [Change(key, patch) for key in keys]
    else:
        if not records.batch:
            raise InvalidRequest(
                'No record(s) detected in request: send {"resource": [...]}, or name the'
                " records in 'ids'.",
                reason="no_records",
            )
        changes = [
            Change(
                _key(record, f"resource.{index}", by_name, "change"),
                prepare(_without_id(record), f"resource.{index}"),
            )
            for index, record in enumerate(records.items)
        ]
    outcomes = apply_each(changes, lambda change: update(change.key, change.patch), options)
    return json_response(200, {"resource": outcomes})


def delete_each(
    records: Records[dict[str, Any]] | None,
    parameters: BatchParameters,
    delete: Callable[[str], dict[str, Any]],
    *,
    by_name: bool = True,
) -> Response[str]:
    """DreamFactory's batch delete: the records `ids` names, or those of a batch body (by `id`,
    else `name`). Neither is a 400: a DELETE on the collection never means "all of them"."""
    options, ids = parameters.options(), parameters.ids
    if ids is not None and records is not None:
        raise InvalidRequest("Name the records to delete in 'ids' or in the body, not both.")
    if ids is not None:
        keys = _split_ids(ids)
    elif records is not None and records.batch:
        keys = [
            _key(record, f"resource.{index}", by_name, "delete")
            for index, record in enumerate(records.items)
        ]
    else:
        raise InvalidRequest(
            "No records given for delete request: name them in 'ids' or as"
            ' {"resource": [{"id": ...}]}; a DELETE never removes every record.',
            reason="no_records",
        )
    return json_response(200, {"resource": apply_each(keys, delete, options)})


def as_given(change: dict[str, Any], _place: str) -> dict[str, Any]:
    """A change the repository checks itself, against the stored record (as its PATCH)."""
    return change


def _split_ids(ids: str) -> list[str]:
    keys = [key.strip() for key in ids.split(",")]
    if not ids.strip() or not all(keys):
        raise InvalidRequest(f"Invalid 'ids': '{ids}' is no comma-separated list of ids.")
    return keys


def _key(record: dict[str, Any], place: str, by_name: bool, verb: str) -> str:
    """The id (as text: the repositories read digits as an id) or name that picks `record`."""
    picked = record.get("id")
    if picked is None and by_name:
        picked = record.get("name")
    if isinstance(picked, bool) or not isinstance(picked, int | str) or picked == "":
        needed = "its 'id' (or its 'name')" if by_name else "its 'id'"
        raise InvalidRequest(f"Invalid '{place}': name the record to {verb} by {needed}.")
    return str(picked)


def _without_id(record: dict[str, Any]) -> dict[str, Any]:
    # The id picks the record; it is no change (a name is: it may rename a template).
    return {field: value for field, value in record.items() if field != "id"}


def _place(records: Records[Any], index: int) -> str:
    return f"resource.{index}" if records.batch else ""
