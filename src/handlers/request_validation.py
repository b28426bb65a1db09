"""Powertools' request validation, as this API needs it: after the API key is checked, and with
every body read as JSON.

The resolver's own `enable_validation=True` runs this validation before every middleware, so an
unauthenticated caller's body would be parsed and checked (and answered 400 instead of 401),
and it reads a body by its Content-Type, while DreamFactory's clients send JSON under any label
(`curl -d` says it is a form). So the resolver is built without it, and `api.py` adds this
middleware right after authentication; Powertools' `RequestValidationError` still reports
what does not validate.
"""

from __future__ import annotations

from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from core.errors import InvalidRequest
from handlers.request_bodies import Records, bare_list_as_batch


class ValidateRequest(OpenAPIRequestValidationMiddleware):
    """Validates path, query, header and body parameters against each route's signature."""

    def _get_body(self, app: EventHandlerInstance) -> Any:
        try:
            body = self._parse_json_data(app)
        except UnicodeDecodeError:
            # API Gateway passes such a body on base64-encoded; Powertools' decode of it fails.
            raise InvalidRequest(
                "The request body is not UTF-8 text, so it cannot be JSON.",
                reason="invalid_encoding",
            ) from None
        # A route taking DreamFactory's batch takes it as a bare list too, read as the
        # `resource` form. Any other body is a JSON object: refused here, a list never meets
        # Powertools' form handling, which takes its first item.
        if isinstance(body, list) and _takes_a_batch(app.context["_route"]):
            return bare_list_as_batch(body)
        if body is not None and not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        return body


def _takes_a_batch(route: Route) -> bool:
    """Whether `route`'s body is one of DreamFactory's batches (`Records`, optional or not)."""
    return any(_is_records(field.field_info.annotation) for field in route.dependant.body_params)


def _is_records(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_records(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return any(_is_records(member) for member in get_args(annotation))
    return origin is Records
