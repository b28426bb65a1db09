"""What API Gateway and the Lambda runtime hand a function, rebuilt for local calls."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

API_PREFIX = "/api/v2"


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: str = "",
    body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, as the deployed API would deliver it."""
    query_pairs = parse_qsl(query, keep_blank_values=True)
    header_map = dict(headers or {})
    return {
        "resource": _resource_for(path),
        "path": path,
        "httpMethod": method.upper(),
        "headers": header_map or None,
        "multiValueHeaders": {name: [value] for name, value in header_map.items()} or None,
        "queryStringParameters": dict(query_pairs) or None,
        "multiValueQueryStringParameters": _multi(query_pairs) or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": _resource_for(path),
            "httpMethod": method.upper(),
            "path": f"/local{path}",
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _resource_for(path: str) -> str:
    """The template's resource path for a concrete path (as API Gateway reports it)."""
    if path.startswith(f"{API_PREFIX}/system/service/"):
        return f"{API_PREFIX}/system/service/{{name}}"
    if path == f"{API_PREFIX}/system/service":
        return path
    return f"{API_PREFIX}/{{service}}"


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


@dataclass
class LocalLambdaContext:
    """The parts of the Lambda context object the handlers use."""

    function_name: str = "local-email-api"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local-email-api"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/local-email-api"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))
