"""Roles through `/api/v2/system/role`, and who may use the admin API at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.access import create_key, create_role, send
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

BILLING: dict[str, Any] = {
    "name": "billing",
    "description": "The billing app",
    "services": ["email"],
    "senders": ["billing@example.com", "*@billing.example.com"],
    "max_recipients": 10,
    "rate_limits": {"per_day": 100},
}


def _field(response: ApiResponse) -> str:
    field: str = response.body["error"]["context"]["errors"][0]["field"]
    return field


def _role_names() -> list[str]:
    return [role["name"] for role in call_api("GET", "/api/v2/system/role").body["resource"]]


# --- create, read --------------------------------------------------------------------------------


def test_create_and_read_a_role() -> None:
    response = call_api("POST", "/api/v2/system/role", BILLING)

    assert response.status == 201, response.body
    created = response.body
    assert created == {
        "id": 1,
        **BILLING,
        "admin": False,
        "rate_limits": {"per_second": None, "per_minute": None, "per_day": 100},
        "templates": None,
        "created_at": created["created_at"],
        "updated_at": created["created_at"],
    }
    assert created["created_at"]
    assert call_api("GET", "/api/v2/system/role/billing").body == created
    assert call_api("GET", "/api/v2/system/role").body == {"resource": [created]}


def test_create_several_roles_at_once() -> None:
    response = call_api(
        "POST",
        "/api/v2/system/role",
        {"resource": [{"name": "reports"}, {"name": "alerts", "services": ["*"]}]},
    )

    assert response.status == 201, response.body
    assert [role["name"] for role in response.body["resource"]] == ["reports", "alerts"]
    assert _role_names() == ["alerts", "reports"]


def test_duplicate_role() -> None:
    create_role("billing", description="first")

    response = call_api("POST", "/api/v2/system/role", {"name": "billing", "admin": True})

    assert (response.status, response.reason) == (409, "role_exists")
    stored = call_api("GET", "/api/v2/system/role/billing").body
    assert (stored["description"], stored["admin"]) == ("first", False)


def test_unknown_role() -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = call_api(method, "/api/v2/system/role/nobody", {"description": "x"})
        assert (response.status, response.reason) == (404, "role_not_found")


# --- what a role may not be -----------------------------------------------------------------------


def test_the_bootstrap_role_name_is_reserved() -> None:
    response = call_api("POST", "/api/v2/system/role", {"name": "bootstrap-admin", "admin": True})

    assert (response.status, response.reason) == (400, "invalid_role_name")
    assert "bootstrap-admin" in response.body["error"]["message"]
    assert _role_names() == []


def test_invalid_role_names() -> None:
    for name in ("Billing", "billing app", "-billing", "billing/x", "", "b" * 65):
        response = call_api("POST", "/api/v2/system/role", {"name": name})

        assert (response.status, response.reason) == (400, "invalid_role_name"), name
        assert response.body["error"]["context"] == {"field": "name"}
    assert call_api("POST", "/api/v2/system/role", {"name": 42}).status == 400
    assert _role_names() == []


def test_invalid_sender_rules() -> None:
    for rule in ("billing", "billing@", "@example.com", "*example.com", "*@", "*@*", "*@*.x.com"):
        response = call_api("POST", "/api/v2/system/role", {"name": "billing", "senders": [rule]})

        assert (response.status, response.reason) == (400, "invalid_address"), rule
        assert response.body["error"]["context"]["field"] == "senders"
    assert _role_names() == []


def test_invalid_limits_and_fields() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"max_recipients": 0}, "max_recipients"),
        ({"max_recipients": -3}, "max_recipients"),
        ({"rate_limits": {"per_minute": 0}}, "rate_limits.per_minute"),
        ({"rate_limits": {"per_day": -1}}, "rate_limits.per_day"),
        ({"rate_limits": {"per_hour": 5}}, "rate_limits.per_hour"),
        ({"services": "email"}, "services"),
        ({"superuser": True}, "superuser"),
    ]
    for fields, field in cases:
        response = call_api("POST", "/api/v2/system/role", {"name": "billing", **fields})

        assert (response.status, response.reason) == (400, "invalid_request"), response.body
        assert _field(response) == field
    assert _role_names() == []


def test_invalid_role_in_a_batch_names_its_place() -> None:
    response = call_api(
        "POST",
        "/api/v2/system/role",
        {"resource": [{"name": "ok"}, {"name": "bad", "max_recipients": 0}]},
    )

    assert response.status == 400
    assert _field(response) == "resource.1.max_recipients"
    assert _role_names() == []  # every record is checked before any is written


# --- update, delete -------------------------------------------------------------------------------


def test_patch_replaces_the_fields_given_and_lists_as_a_whole() -> None:
    before = create_role(**BILLING)

    response = call_api(
        "PATCH",
        "/api/v2/system/role/billing",
        {"senders": ["ar@example.com"], "rate_limits": {"per_minute": 5}},
    )

    assert response.status == 200, response.body
    after = response.body
    assert after["senders"] == ["ar@example.com"]
    assert after["rate_limits"] == {"per_second": None, "per_minute": 5, "per_day": None}
    for unchanged in ("description", "services", "max_recipients", "admin", "created_at"):
        assert after[unchanged] == before[unchanged]
    assert after["updated_at"] >= before["updated_at"]
    assert call_api("GET", "/api/v2/system/role/billing").body == after


def test_patch_can_clear_a_limit() -> None:
    create_role(**BILLING)

    response = call_api("PATCH", "/api/v2/system/role/billing", {"max_recipients": None})

    assert (response.status, response.body["max_recipients"]) == (200, None)


def test_invalid_patch_changes_nothing() -> None:
    before = create_role(**BILLING)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "finance"}, "invalid_request"),
        ({"senders": ["not an address"]}, "invalid_address"),
        ({"max_recipients": 0}, "invalid_request"),
        ({"rate_limits": {"per_day": 0}}, "invalid_request"),
        ({"unknown": 1}, "invalid_request"),
    ]

    for patch, reason in cases:
        response = call_api("PATCH", "/api/v2/system/role/billing", patch)

        assert (response.status, response.reason) == (400, reason), response.body
    assert call_api("GET", "/api/v2/system/role/billing").body == before
    assert _role_names() == ["billing"]


def test_delete_a_role() -> None:
    create_role(**BILLING)

    response = call_api("DELETE", "/api/v2/system/role/billing")

    assert (response.status, response.body) == (200, {"id": 1, "name": "billing"})
    assert call_api("GET", "/api/v2/system/role/billing").status == 404
    assert call_api("DELETE", "/api/v2/system/role/billing").status == 404
    assert _role_names() == []


# --- who may administer ---------------------------------------------------------------------------


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server()
    create_service(
        {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@example.com"}
    )
    return server


ADMIN_RESOURCES = ("service", "role", "api_key")
ADMIN_ROUTES = [
    ("GET", "/api/v2/system/service", None),
    ("POST", "/api/v2/system/service", {"name": "other", "config": {"host": LOOPBACK}}),
    ("GET", "/api/v2/system/service/email", None),
    ("PATCH", "/api/v2/system/service/email", {"config": {"host": "smtp.evil.example"}}),
    ("DELETE", "/api/v2/system/service/email", None),
    ("GET", "/api/v2/system/role", None),
    ("POST", "/api/v2/system/role", {"name": "root", "admin": True}),
    ("GET", "/api/v2/system/role/app", None),
    ("PATCH", "/api/v2/system/role/app", {"admin": True}),
    ("DELETE", "/api/v2/system/role/app", None),
    ("GET", "/api/v2/system/api_key", None),
    ("POST", "/api/v2/system/api_key", {"role": "app"}),
    ("GET", "/api/v2/system/api_key/{key_id}", None),
    ("PATCH", "/api/v2/system/api_key/{key_id}", {"enabled": False}),
    ("DELETE", "/api/v2/system/api_key/{key_id}", None),
    ("POST", "/api/v2/system/api_key/{key_id}/rotate", None),
]


def _everything() -> dict[str, Any]:
    """What the admin API shows, except when each key was last used."""
    shown = {what: call_api("GET", f"/api/v2/system/{what}").body for what in ADMIN_RESOURCES}
    for key in shown["api_key"]["resource"]:
        key.pop("last_used_at")
    return shown


def test_a_non_admin_key_may_not_administer(server: CaptureServer) -> None:
    # As powerful as a role gets without `admin`: every service, every sender.
    create_role("app", services=["*"], senders=["*"])
    key = create_key("app")
    before = _everything()

    for method, path, body in ADMIN_ROUTES:
        response = call_api(method, path.format(key_id=key.id), body, api_key=key.token)

        assert (response.status, response.reason) == (403, "admin_only"), (method, path)
    assert _everything() == before
    assert send(key.token).status == 200  # the key itself still works, for sending


def test_an_admin_role_may_administer(server: CaptureServer) -> None:
    create_role("ops", admin=True)
    ops = create_key("ops")

    created = call_api("POST", "/api/v2/system/role", {"name": "app"}, api_key=ops.token)
    key = call_api("POST", "/api/v2/system/api_key", {"role": "app"}, api_key=ops.token)
    listed = call_api("GET", "/api/v2/system/service", api_key=ops.token)

    assert (created.status, key.status, listed.status) == (201, 201, 200)
    assert [service["name"] for service in listed.body["resource"]] == ["email"]
    # Administering is not sending: this role names no service.
    assert send(ops.token).reason == "service_forbidden"
    assert server.sessions == 0


def test_an_admin_role_can_be_demoted(server: CaptureServer) -> None:
    create_role("ops", admin=True)
    ops = create_key("ops")
    assert call_api("GET", "/api/v2/system/role", api_key=ops.token).status == 200

    call_api("PATCH", "/api/v2/system/role/ops", {"admin": False})

    assert call_api("GET", "/api/v2/system/role", api_key=ops.token).reason == "admin_only"
