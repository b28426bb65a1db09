"""Calling the API Lambda handler the way API Gateway does, and reading its answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local_stack.apigateway import LocalLambdaContext, rest_api_event

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
    timeout_seconds: float = 30.0,
) -> ApiResponse:
    """Invoke `handlers.api.lambda_handler` with a REST proxy event; decode the JSON answer."""
    from handlers import api  # imported late: the handler reads settings on first use

    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if api_key is not None:
        all_headers["X-DreamFactory-API-Key"] = api_key
    event = rest_api_event(
        method,
        path,
        headers=all_headers,
        query=query,
        body=raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
    )
    answer = api.lambda_handler(event, LocalLambdaContext(timeout_seconds=timeout_seconds))
    text = answer.get("body") or ""
    return ApiResponse(
        status=answer["statusCode"],
        headers=answer.get("headers") or {},
        body=json.loads(text) if text else None,
    )


def create_service(config: dict[str, Any], *, name: str = "email", **fields: Any) -> dict[str, Any]:
    """Create a service through `POST /api/v2/system/service`; returns what the API answered."""
    response = call_api(
        "POST", "/api/v2/system/service", {"name": name, **fields, "config": config}
    )
    assert response.status == 201, response.body
    created: dict[str, Any] = response.body
    return created
