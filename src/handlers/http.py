"""The small HTTP plumbing the API routes share: JSON in, JSON out, the calling principal."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

from core.access.authentication import Principal
from core.errors import InvalidRequest


def json_body(router: BaseRouter) -> Any:
    """The request's JSON body, whatever Content-Type the client sent (curl -d sends a form's)."""
    try:
        return router.current_event.json_body
    except (json.JSONDecodeError, TypeError) as error:
        raise InvalidRequest("Request body is not valid JSON.", reason="invalid_json") from error
    except RecursionError:
        # Thousands of nested brackets: the decoder gives up before we could refuse it.
        raise InvalidRequest(
            "Request body is nested too deeply to be an email request.", reason="invalid_json"
        ) from None


def json_object(router: BaseRouter) -> dict[str, Any]:
    body = json_body(router)
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def caller(router: BaseRouter) -> Principal:
    """The principal the authentication middleware put in the request context."""
    principal: Principal = router.context["principal"]
    return principal
