"""What the admin and send routes take: JSON objects of the documented types, nothing looser.

Found by the contract fuzzer: a body that is not UTF-8 was a 500 on every route taking one, an
empty role name a 500 (DynamoDB refuses an empty key), and `0`, `1`, `"true"` or `"587"` passed
for booleans and numbers, which the OpenAPI document says they are not. Each is a 400 naming the
field now, through the same handlers API Gateway calls, over moto.
"""

from __future__ import annotations

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_service

pytestmark = pytest.mark.usefixtures("aws")

SERVICE = {"host": "127.0.0.1", "port": 2525, "encryption": "none"}

# Every route that takes a body, with a path that exists once `_records` has run.
BODY_ROUTES = [
    ("POST", "/api/v2/email"),
    ("POST", "/api/v2/email/preview"),
    ("POST", "/api/v2/system/service"),
    ("PATCH", "/api/v2/system/service/email"),
    ("POST", "/api/v2/system/service/email/test"),
    ("POST", "/api/v2/system/role"),
    ("PATCH", "/api/v2/system/role/billing"),
    ("POST", "/api/v2/system/email_template"),
    ("PATCH", "/api/v2/system/email_template/welcome"),
    ("POST", "/api/v2/system/api_key"),
    ("PATCH", "/api/v2/system/api_key/{key}"),
    ("POST", "/api/v2/system/api_key/{key}/rotate"),
]


@pytest.fixture
def records() -> dict[str, str]:
    """A service, a role, a key and a template for the routes above to find."""
    create_service(SERVICE)
    create_role("billing", services=["email"])
    template = call_api("POST", "/api/v2/system/email_template", {"name": "welcome"})
    assert template.status == 201, template.body
    return {"key": create_key("billing").id}


def _refused_naming(response: ApiResponse, field: str) -> None:
    assert response.status == 400, response.body
    assert response.reason == "invalid_request", response.body
    assert f"'{field}'" in response.body["error"]["message"], response.body


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
def test_a_body_that_is_not_utf8_is_a_400_on_every_route(
    records: dict[str, str], method: str, path: str
) -> None:
    """Latin-1 bytes (API Gateway hands them on base64-encoded) were a 500 from Powertools'
    decode; now the request is refused, saying why."""
    response = call_api(
        method, path.format(**records), body_bytes='{"label": "caf\xe9"}'.encode("latin-1")
    )

    assert response.status == 400, response.body
    assert response.reason == "invalid_encoding"
    assert "UTF-8" in response.body["error"]["message"]
