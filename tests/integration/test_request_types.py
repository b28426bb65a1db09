"""What the admin and send routes take: JSON objects of the documented types, nothing looser.

Found by the contract fuzzer: a body that is not UTF-8 was a 500 on every route taking one, an
empty role name a 500 (DynamoDB refuses an empty key), and `0`, `1`, `"true"` or `"587"` passed
for booleans and numbers, which the OpenAPI document says they are not. Each is a 400 naming the
field now, through the same handlers API Gateway calls, over moto.
"""

from __future__ import annotations

from typing import Any

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


@pytest.mark.parametrize("role", ["", "Not A Role", "x" * 65])
def test_a_key_for_a_role_that_cannot_exist_is_a_400(records: dict[str, str], role: str) -> None:
    """`"role": ""` reached DynamoDB as an empty key (a 500); a name no role can have is the
    caller's mistake, on create and on change."""
    created = call_api("POST", "/api/v2/system/api_key", {"role": role})
    changed = call_api("PATCH", f"/api/v2/system/api_key/{records['key']}", {"role": role})

    _refused_naming(created, "role")
    _refused_naming(changed, "role")


# (method, path, body, the field that must be named): a boolean or number given as another
# JSON type. Each was accepted (or, `config: false`, ignored) before.
LAX_VALUES: list[tuple[str, str, dict[str, Any], str]] = [
    ("PATCH", "/api/v2/system/api_key/{key}", {"enabled": 0}, "enabled"),
    ("PATCH", "/api/v2/system/api_key/{key}", {"enabled": "false"}, "enabled"),
    ("POST", "/api/v2/system/api_key/{key}/rotate", {"overlap_seconds": "60"}, "overlap_seconds"),
    ("POST", "/api/v2/system/api_key/{key}/rotate", {"overlap_seconds": True}, "overlap_seconds"),
    ("PATCH", "/api/v2/system/service/email", {"is_active": 0}, "is_active"),
    ("PATCH", "/api/v2/system/service/email", {"config": False}, "config"),
    # DreamFactory's export gives the port as digits ("587"): taken; a boolean is not.
    ("PATCH", "/api/v2/system/service/email", {"config": {"port": True}}, "config.port"),
    ("PATCH", "/api/v2/system/service/email", {"config": {"port": "25 "}}, "config.port"),
    ("PATCH", "/api/v2/system/service/email", {"config": {"verify_tls": 1}}, "config.verify_tls"),
    ("PATCH", "/api/v2/system/service/email", {"label": 5}, "label"),
    (
        "POST",
        "/api/v2/system/service",
        {"name": "other", "is_active": 1, "config": SERVICE},
        "is_active",
    ),
    (
        "POST",
        "/api/v2/system/service",
        {"name": "other", "config": {**SERVICE, "escape_html_values": "no"}},
        "config.escape_html_values",
    ),
    (
        "POST",
        "/api/v2/system/service",
        {"name": "other", "config": {**SERVICE, "max_recipients": True}},
        "config.max_recipients",
    ),
    (
        "POST",
        "/api/v2/system/service",
        {"name": "other", "config": {**SERVICE, "parameters": [{"name": "a", "active": "no"}]}},
        "config.parameters.0.active",
    ),
    ("POST", "/api/v2/system/service/email/test", {"timeout_seconds": True}, "timeout_seconds"),
    ("POST", "/api/v2/system/service/email/test", {"timeout_seconds": "5"}, "timeout_seconds"),
    ("POST", "/api/v2/system/role", {"name": "other", "admin": 0}, "admin"),
    ("POST", "/api/v2/system/role", {"name": "other", "max_recipients": "5"}, "max_recipients"),
    (
        "POST",
        "/api/v2/system/role",
        {"name": "other", "rate_limits": {"per_minute": True}},
        "rate_limits.per_minute",
    ),
    ("PATCH", "/api/v2/system/role/billing", {"admin": 1}, "admin"),
    ("PATCH", "/api/v2/system/role/billing", {"max_recipients": False}, "max_recipients"),
    (
        "POST",
        "/api/v2/email",
        {"to": "a@example.com", "body_text": "x", "template_id": True},
        "template_id",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), LAX_VALUES)
def test_booleans_and_numbers_are_taken_only_as_themselves(
    records: dict[str, str], method: str, path: str, body: dict[str, Any], field: str
) -> None:
    """`0` is no `false`, `"60"` no number, `true` no timeout: a 400 naming the field, and
    nothing changed."""
    response = call_api(method, path.format(**records), body)

    _refused_naming(response, field)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v2/system/service", {"name": "email2\n", "config": SERVICE}),
        ("/api/v2/system/role", {"name": "billing2\n"}),
        ("/api/v2/system/email_template", {"name": "welcome2\n"}),
    ],
)
def test_a_name_with_a_trailing_newline_is_refused(
    records: dict[str, str], path: str, body: dict[str, Any]
) -> None:
    """The name rules ended in `$`, which Python's `match` lets a final newline through; the
    document's patterns (ECMA `$`) do not. Both say the same now."""
    response = call_api("POST", path, body)

    assert response.status == 400, response.body
    assert response.body["error"]["context"]["field"] == "name"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "t1", "defaults": {"": "x"}},
        {"name": "t2", "to": {"email": "a@example.com", "": 1}},
        {"name": "t3", "cc": [{"email": "a@example.com", "x": {"": 1}}]},
        # A number DynamoDB cannot keep, outside `defaults` (where it was checked already).
        {"name": "t4", "to": {"email": "a@example.com", "x": 1e-200}},
        {"name": "t5", "cc": [{"email": "a@example.com", "x": [10**40]}]},
    ],
)
def test_a_template_dynamodb_cannot_keep_is_refused_and_the_list_still_reads(
    records: dict[str, str], body: dict[str, Any]
) -> None:
    """An empty key inside a template was stored (DynamoDB itself refuses such a name), and
    from then on every GET of the templates was a 500 (schemathesis, stateful); a number out of
    DynamoDB's range inside a recipient object was a 500 on create (schemathesis)."""
    created = call_api("POST", "/api/v2/system/email_template", body)
    listed = call_api("GET", "/api/v2/system/email_template")

    assert created.status == 400, created.body
    assert listed.status == 200, listed.body


def test_a_role_patch_checks_the_dates_it_is_sent_back_and_keeps_its_own(
    records: dict[str, str],
) -> None:
    """`updated_at` was replaced before the role was checked, so `{}` passed (schemathesis:
    negative data accepted), and `created_at` was taken from the caller."""
    before = call_api("GET", "/api/v2/system/role/billing").body

    wrong_type = call_api("PATCH", "/api/v2/system/role/billing", {"updated_at": {}})
    rewritten = call_api("PATCH", "/api/v2/system/role/billing", {"created_at": "1999-01-01"})

    _refused_naming(wrong_type, "updated_at")
    assert rewritten.status == 200, rewritten.body
    assert rewritten.body["created_at"] == before["created_at"]
