"""Turning pydantic's structural validation errors into the API's `InvalidRequest`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import InvalidRequest

Model = TypeVar("Model", bound=BaseModel)


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


def parse_model(model: type[Model], body: Any, *, prefix: str = "") -> Model:
    """Validate a JSON object into `model`, or raise a 400 naming the field."""
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
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
