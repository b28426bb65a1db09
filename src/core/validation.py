"""Turning pydantic's structural validation errors into the API's `InvalidRequest`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from core.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


def _only_true_or_false(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _only_a_number(value: Any) -> Any:
    # DynamoDB gives stored numbers back as Decimal; a request's come as int or float.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


# JSON's own types, taken as nothing else: pydantic's lax mode would take 0 or "false" for a
# boolean and "587" or true for a number, which the OpenAPI document says they are not.
NUMBER_ONLY = BeforeValidator(_only_a_number)
JsonBool = Annotated[bool, BeforeValidator(_only_true_or_false)]


def _only_iso_text(value: Any) -> Any:
    # pydantic's datetime also reads a number, or a numeric text, as seconds since 1970; a
    # query's `until=0.5` is a mistake to name, not the first second of 1970.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date and time (text) is expected")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("an ISO 8601 date and time with its zone is expected") from None
    return value


# A date and time as ISO 8601 text, nothing else.
ISO_ONLY = BeforeValidator(_only_iso_text)


def _only_iso_date_text(value: Any) -> Any:
    # As `_only_iso_text`, and a day only: pydantic's date reads `86400` as 1970-01-02.
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("an ISO 8601 date (YYYY-MM-DD) is expected")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A day as `YYYY-MM-DD` text, nothing else.
ISO_DATE_ONLY = BeforeValidator(_only_iso_date_text)
JsonInt = Annotated[int, NUMBER_ONLY]
# DreamFactory's ids are MySQL's unsigned `increments`, from 1 (df-core's system tables
# migration): the range of an id a client may give, to keep (`?keep_ids=true`).
MAX_RECORD_ID = 4_294_967_295
RecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID), NUMBER_ONLY]
# With bounds, they go before NUMBER_ONLY (`Annotated[int, Field(ge=1), NUMBER_ONLY]`): after
# it, pydantic can only check them apart from the type, and the document shows them as "ge".


def _unchanged(value: Any) -> Any:
    return value


def shown_as(documented: Any) -> BeforeValidator:
    """Takes a value as it is; the document shows it as `documented` (for a field whose checks
    run elsewhere, e.g. a template's, checked as a send body's)."""
    return BeforeValidator(_unchanged, json_schema_input_type=documented)


def invalid_request_from(
    error: ValidationError | Sequence[Any], *, prefix: str = ""
) -> InvalidRequest:
    """A 400 naming the first offending field, with every problem listed in the context."""
    problems = error.errors() if isinstance(error, ValidationError) else list(error)
    details = [
        {"field": _field_path(problem.get("loc", ()), prefix), "problem": problem.get("msg", "")}
        for problem in problems
    ]
    if not details:
        return InvalidRequest("Invalid request.")
    first = details[0]
    if problems[0].get("type") == "json_invalid":
        return InvalidRequest("Request body is not valid JSON.", reason="invalid_json")
    where = f"'{first['field']}'" if first["field"] else "request body"
    return InvalidRequest(f"Invalid {where}: {first['problem']}.", context={"errors": details})


def _field_path(location: Sequence[Any], prefix: str) -> str:
    # Powertools prefixes body errors with ("body",); the caller does not need to see that.
    parts = [str(part) for part in location if part != "body"]
    if prefix:
        parts.insert(0, prefix)
    return ".".join(parts)


# JSON nested deeper than this is no email request: refuse it before anything walks it.
MAX_JSON_DEPTH = 32


def check_json_text(value: Any, *, depth: int = 0) -> None:
    """400 for what JSON can carry but no message may: nesting beyond `MAX_JSON_DEPTH`, a lone
    UTF-16 surrogate (`"\\ud800"`, which no encoder can write) or a NUL character."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidRequest(
            f"The request is nested more than {MAX_JSON_DEPTH} levels deep.",
            reason="invalid_json",
        )
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequest(
                "The request holds a lone surrogate (an unpaired '\\ud800'-'\\udfff' escape),"
                " which is not text.",
                reason="invalid_character",
            ) from None
        if "\0" in value:
            raise InvalidRequest(
                "The request holds a NUL character ('\\u0000'), which no message may carry.",
                reason="invalid_character",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_json_text(key, depth=depth + 1)
            check_json_text(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json_text(item, depth=depth + 1)


def parse_model(
    model: type[Model], body: Any, *, prefix: str = "", context: dict[str, Any] | None = None
) -> Model:
    """Validate a JSON object into `model` (with a validation `context`), or raise a 400
    naming the field."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(body, context=context)
    except ValidationError as error:
        raise invalid_request_from(error, prefix=prefix) from error


def parse_records(model: type[Model], body: Any) -> tuple[list[Model], bool]:
    """DreamFactory's POST body: one record, or `{"resource": [...]}`. Says which it was."""
    if isinstance(body, dict) and "resource" in body:
        records = body["resource"]
        if not isinstance(records, list) or not records:
            raise InvalidRequest("'resource' must be a non-empty list.")
        return [
            parse_model(model, record, prefix=f"resource.{index}")
            for index, record in enumerate(records)
        ], True
    return [parse_model(model, body)], False
