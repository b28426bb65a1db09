"""The small HTTP plumbing the API routes share: JSON in, the calling principal."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from core.access.authentication import Principal
from core.errors import InvalidRequest


def read_json(text: str) -> Any:
    """A request body's JSON (the resolver's `json_body_deserializer`). Malformed JSON raises
    `JSONDecodeError`, which Powertools reports as `json_invalid`."""
    try:
        return json.loads(text)
    except RecursionError:
        # Thousands of nested brackets: the decoder gives up before we could refuse it.
        raise InvalidRequest(
            "Request body is nested too deeply to be an email request.", reason="invalid_json"
        ) from None


def caller(router: BaseRouter) -> Principal:
    """The principal the authentication middleware put in the request context."""
    principal: Principal = router.context["principal"]
    return principal
