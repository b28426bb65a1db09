"""Calling the API Lambda handler the way API Gateway does, and reading its answer.

As deployed, a request matching one of the template's routes goes to the API's Lambda
authorizer first; only a request it allows reaches the API function, with the authorizer's
context in the event. `call_api` takes the same path through the same handlers, using the
local stack's API Gateway steps, so every test exercises the authorizer too.
"""

from __future__ import annotations

import base64
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from local_stack.apigateway import (
    UNAUTHORIZED,
    LocalLambdaContext,
    ProxyAnswer,
    gateway_response,
    match_route,
    rest_api_event,
    route_taken,
    routes_without_authorizer,
    through_authorizer,
)
from local_stack.functions import LocalApi, template_api, template_functions
from local_stack.template_tables import load_template

ADMIN_KEY = "test-admin-key-0123456789"


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def reason(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error.get("reason") if isinstance(error, dict) else None


def call_api(
    method: str,
    path: str,
    body: Any = None,
    *,
    api_key: str | None = ADMIN_KEY,
    headers: dict[str, str] | None = None,
    query: str = "",
    raw_body: str | None = None,
    body_bytes: bytes | None = None,
    timeout_seconds: float = 30.0,
    via_authorizer: bool = True,
) -> ApiResponse:
    """One request as the deployed API handles it; decode the JSON answer.

    With `via_authorizer=False` the API function gets the bare proxy event, as from
    `sam local invoke`: no route check, no authorizer, so it checks the key itself.
    `body_bytes` goes as API Gateway passes a body that is not UTF-8: base64, so flagged.
    """
    from handlers import api  # imported late: the handler reads settings on first use

    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if api_key is not None:
        all_headers["X-DreamFactory-API-Key"] = api_key
    rest_api, authorizer = _front_door()
    route = match_route(rest_api.routes, method, path)
    event = rest_api_event(
        method,
        path,
        headers=all_headers,
        query=query,
        body=raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
        route=route,
    )
    if body_bytes is not None:
        event["body"] = base64.b64encode(body_bytes).decode()
        event["isBase64Encoded"] = True

    def api_function(event: dict[str, Any]) -> ProxyAnswer:
        context = LocalLambdaContext(
            function_name=rest_api.function, timeout_seconds=timeout_seconds
        )
        answer: ProxyAnswer = api.lambda_handler(event, context.typed())
        return answer

    if not via_authorizer:
        answer = api_function(event)
    elif route is None:
        answer = gateway_response(rest_api.gateway_responses, "MISSING_AUTHENTICATION_TOKEN")
    elif route_taken(rest_api.routes, method, route.resource) in _open_routes():
        answer = api_function(event)
    else:
        answer = through_authorizer(event, authorizer, api_function, rest_api.gateway_responses)
    text = answer.get("body") or ""
    return ApiResponse(
        status=answer["statusCode"],
        headers=_headers(answer),
        body=json.loads(text) if text else None,
    )


def _headers(answer: ProxyAnswer) -> dict[str, str]:
    """The answer's headers as a client sees them; the REST resolver answers with
    `multiValueHeaders`, which win over `headers`, as in API Gateway."""
    headers = {name: str(value) for name, value in (answer.get("headers") or {}).items()}
    for name, values in (answer.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(value) for value in values)
    return headers


@cache
def _open_routes() -> frozenset[tuple[str, str]]:
    """The routes API Gateway calls the function for without asking the authorizer."""
    return routes_without_authorizer(load_template())


@cache
def _front_door() -> tuple[LocalApi, Callable[[dict[str, Any]], Any]]:
    """The template's REST API, and a call of the function its authorizer runs."""
    rest_api = template_api()
    assert rest_api.authorizer is not None, "the template's API has no Lambda authorizer"
    function = template_functions()[rest_api.authorizer]

    def authorize(event: dict[str, Any]) -> Any:
        try:
            return function.invoke(event)
        except Exception as error:
            if str(error) != UNAUTHORIZED:  # API Gateway hides it in a 500; show it here
                traceback.print_exc()
            raise

    return rest_api, authorize


def create_service(config: dict[str, Any], *, name: str = "email", **fields: Any) -> dict[str, Any]:
    """Create a service through `POST /api/v2/system/service`; returns what the API answered."""
    response = call_api(
        "POST", "/api/v2/system/service", {"name": name, **fields, "config": config}
    )
    assert response.status == 201, response.body
    created: dict[str, Any] = response.body
    return created


def create_plain_service(port: int, **config: Any) -> dict[str, Any]:
    """The `email` service over plain SMTP to a test server on loopback, sending by default
    as noreply@example.com; `config` adds to or overrides that."""
    return create_service(
        {
            "host": "127.0.0.1",
            "port": port,
            "encryption": "none",
            "from_email": "noreply@example.com",
            **config,
        }
    )
