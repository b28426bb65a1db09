"""Roles and API keys made through the admin API, for tests that call as a restricted app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.api import ApiResponse, call_api

MESSAGE = {"to": "john@example.com", "subject": "Hi", "body_text": "Hi"}


@dataclass(frozen=True)
class CreatedKey:
    id: str
    token: str  # the full key, shown once by the API
    shown: dict[str, Any]  # the whole answer that showed it


def create_role(name: str, **fields: Any) -> dict[str, Any]:
    """`POST /api/v2/system/role` with the bootstrap admin key; returns the role as shown."""
    response = call_api("POST", "/api/v2/system/role", {"name": name, **fields})
    assert response.status == 201, response.body
    role: dict[str, Any] = response.body
    return role


def create_key(role: str, *, label: str = "") -> CreatedKey:
    """`POST /api/v2/system/api_key` for `role`; returns its id and the key shown once."""
    response = call_api("POST", "/api/v2/system/api_key", {"label": label, "role": role})
    assert response.status == 201, response.body
    return CreatedKey(id=response.body["id"], token=response.body["key"], shown=response.body)


def send(api_key: str | None, service: str = "email", **body: Any) -> ApiResponse:
    """`POST /api/v2/{service}` with `api_key`: MESSAGE, with `body` changing its fields."""
    return call_api("POST", f"/api/v2/{service}", {**MESSAGE, **body}, api_key=api_key)
