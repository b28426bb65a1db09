"""DreamFactory's `config.parameters` of a service: placeholder values every send gets, as a
request or an export gives them (names, values as text, an `active` flag of 1 or 0), bounded
so that a service stays far below DynamoDB's item limit."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from core.errors import InvalidRequest
from core.validation import JsonBool

# DreamFactory's `parameters`: as many as a service form would hold, and few enough bytes
# that a service stays far below DynamoDB's 400 KB item limit.
MAX_PARAMETERS = 100
MAX_PARAMETER_NAME_LENGTH = 255  # DreamFactory's column: VARCHAR(255)
MAX_PARAMETERS_BYTES = 64 * 1024  # names and values together, UTF-8
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _dreamfactory_flag(value: Any) -> Any:
    # DreamFactory exports a parameter's `active` as its column's 1 or 0.
    if type(value) is int and value in (0, 1):
        return bool(value)
    return value


DreamFactoryFlag = Annotated[
    JsonBool,
    BeforeValidator(
        _dreamfactory_flag, json_schema_input_type=bool | Annotated[int, Field(ge=0, le=1)]
    ),
]


class ServiceParameter(BaseModel):
    """One of DreamFactory's `config.parameters`: a placeholder value every send gets.

    Only `name`, `value` and `active` are kept. DreamFactory's other keys are its own row
    keys (`id`, `service_id`) or belong to other service types (`outbound`, `exclude`): kept,
    they would be shown back as if they meant something here, and stale ids would travel
    into the next export.
    """

    model_config = ConfigDict(extra="ignore")

    name: str
    value: str | None = None  # null: no value, so `{name}` is left as it is
    active: DreamFactoryFlag = True


class ParameterInput(BaseModel):
    """A parameter as a request may give it (what `parse_parameters` takes); DreamFactory's
    other keys are dropped."""

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_PARAMETER_NAME_LENGTH,
            pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+$",
        ),
    ]
    # Kept as text: DreamFactory's column is text.
    value: str | int | float | bool | None = None
    active: DreamFactoryFlag | None = True


def _parameter_value(value: Any) -> str | None:
    # DreamFactory keeps values in a text column: a number or a boolean comes back as text.
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    raise ValueError("its value must be text, a number or true/false")


def _parameter_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("it needs a 'name' (non-empty text)")
    if len(name) > MAX_PARAMETER_NAME_LENGTH or _CONTROL_CHARACTER.search(name):
        raise ValueError(
            f"its name must be at most {MAX_PARAMETER_NAME_LENGTH} characters, with no line"
            " breaks or other control characters"
        )
    return name


def _invalid_parameter(message: str, field: str) -> InvalidRequest:
    return InvalidRequest(message, reason="invalid_parameter", context={"field": field})


def parse_parameters(value: Any) -> Any:
    """DreamFactory's list of `{name, value, ...}`; a 400 naming the entry that is wrong."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid_parameter(
            '\'config.parameters\' must be a list of {"name": ..., "value": ...} objects.',
            "config.parameters",
        )
    if len(value) > MAX_PARAMETERS:
        raise _invalid_parameter(
            f"A service may have at most {MAX_PARAMETERS} parameters, not {len(value)}.",
            "config.parameters",
        )
    entries = []
    for index, entry in enumerate(value):
        where = f"config.parameters.{index}"
        if isinstance(entry, ServiceParameter):
            entry = entry.model_dump()
        if not isinstance(entry, dict):
            raise _invalid_parameter(
                f"Invalid service parameter {index} ('{where}'): it must be an object with"
                " 'name' and 'value'.",
                where,
            )
        try:
            name = _parameter_name(entry.get("name"))
        except ValueError as problem:
            raise _invalid_parameter(
                f"Invalid service parameter {index} ('{where}.name'): {problem}.", f"{where}.name"
            ) from None
        try:
            text = _parameter_value(entry.get("value"))
        except ValueError as problem:
            raise _invalid_parameter(
                f"Invalid service parameter '{name}' ('{where}.value'): {problem}.",
                f"{where}.value",
            ) from None
        # `active` is pydantic's to check; null or missing: active, as in DreamFactory.
        active = True if entry.get("active") is None else entry["active"]
        entries.append({**entry, "name": name, "value": text, "active": active})
    size = sum(len(e["name"].encode()) + len((e["value"] or "").encode()) for e in entries)
    if size > MAX_PARAMETERS_BYTES:
        raise _invalid_parameter(
            f"The service's parameters hold {size} bytes of text; at most"
            f" {MAX_PARAMETERS_BYTES} are allowed.",
            "config.parameters",
        )
    return entries
