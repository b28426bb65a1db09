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

from typing import Any

from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)
from aws_lambda_powertools.event_handler.types import EventHandlerInstance

from core.errors import InvalidRequest


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
        # Every body this API takes is a JSON object (DreamFactory's batch is one too). Refused
        # here, a list never meets Powertools' form handling, which takes its first item.
        if body is not None and not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        return body
