"""Roles' numeric ids, as DreamFactory's: shown in every answer, found by id or name in
`/api/v2/system/role/{id_or_name}`, kept by an import; keys still name their role.

DreamFactory's `role` table has an auto-increment `id` beside its unique `name` (df-core
`database/migrations/2015_01_27_190908_create_system_tables.php`, lines 98-102), and a create
fills only `name`, `description` and `is_active` from the body (df-core `src/Models/Role.php`,
lines 35-39): an `id` sent is not taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support.access import create_key, create_role, send
from tests.support.api import call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

TABLE = "email-api-roles"
ROLES = "/api/v2/system/role"


def _stored_before_ids(name: str, created_at: str, **fields: Any) -> None:
    """A role as a stack older than ids wrote it: no `id`."""
    boto3.resource("dynamodb").Table(TABLE).put_item(
        Item={"name": name, "created_at": created_at, "updated_at": created_at, **fields}
    )


def _stored(name: str) -> dict[str, Any]:
    item: dict[str, Any] = (
        boto3.resource("dynamodb").Table(TABLE).get_item(Key={"name": name})["Item"]
    )
    return item


def test_roles_get_increasing_ids_and_are_found_by_either() -> None:
    first, second = create_role("billing"), create_role("alerts", services=["*"])

    patched = call_api("PATCH", f"{ROLES}/2", {"description": "Paging"})
    listed = call_api("GET", ROLES).body["resource"]

    assert (first["id"], second["id"]) == (1, 2)
    assert list(first)[:2] == ["id", "name"]
    assert (patched.status, patched.body["id"], patched.body["name"]) == (200, 2, "alerts")
    assert [(r["id"], r["name"]) for r in listed] == [(2, "alerts"), (1, "billing")]
    assert call_api("GET", f"{ROLES}/1").body == call_api("GET", f"{ROLES}/billing").body
    deleted = call_api("DELETE", f"{ROLES}/1")
    assert (deleted.status, deleted.body) == (200, {"id": 1, "name": "billing"})
    assert call_api("GET", f"{ROLES}/1").status == 404
    assert create_role("billing")["id"] == 3  # never handed out twice


def test_a_role_in_use_is_not_deleted_by_its_id_either() -> None:
    create_role("billing")
    key = create_key("billing")

    answer = call_api("DELETE", f"{ROLES}/1")

    assert (answer.status, answer.reason) == (409, "role_in_use"), answer.body
    assert answer.body["error"]["context"] == {"api_keys": [key.id]}


def test_a_patch_may_send_the_id_back_but_not_change_it() -> None:
    created = create_role("billing")

    same = call_api("PATCH", f"{ROLES}/billing", {**created, "description": "Invoices"})
    changed = call_api("PATCH", f"{ROLES}/billing", {"id": 7})

    assert (same.status, same.body["id"]) == (200, 1), same.body
    assert (changed.status, changed.body["error"]["context"]) == (400, {"field": "id"})


def test_a_name_of_digits_is_refused_at_create_and_an_unknown_id_is_a_404() -> None:
    refused = call_api("POST", ROLES, {"name": "42"})
    missing = call_api("GET", f"{ROLES}/42")

    assert (refused.status, refused.reason) == (400, "invalid_role_name"), refused.body
    assert (missing.status, missing.reason) == (404, "role_not_found")
    assert missing.body["error"]["message"] == "Record with identifier '42' not found."


def test_an_id_in_the_body_is_ignored_without_keep_ids() -> None:
    created = call_api("POST", ROLES, {"name": "billing", "id": 9})

    assert (created.status, created.body["id"]) == (201, 1), created.body


def test_keep_ids_keeps_them_and_refuses_one_taken() -> None:
    create_role("billing")  # id 1

    kept = call_api(
        "POST",
        ROLES,
        {"resource": [{"name": "alerts", "id": 12}, {"name": "reports"}]},
        query="keep_ids=true",
    )
    taken = call_api("POST", ROLES, {"name": "imported", "id": 1}, query="keep_ids=true")

    assert kept.status == 201, kept.body
    assert [(r["name"], r["id"]) for r in kept.body["resource"]] == [
        ("alerts", 12),
        ("reports", 13),
    ]
    assert (taken.status, taken.reason) == (409, "role_id_taken"), taken.body
    assert taken.body["error"]["context"] == {"field": "id", "id": 1, "role": "billing"}
    assert create_role("later")["id"] == 14


def test_roles_stored_before_ids_are_numbered_by_the_admin_api_not_by_a_key_check(
    smtp_server: Callable[..., CaptureServer],
) -> None:
    create_plain_service(smtp_server().port)
    _stored_before_ids("app", "2025-01-01T00:00:00+00:00", services=["email"])
    # A name of digits, allowed before ids existed: still a name to keys and to a send.
    _stored_before_ids("2024", "2024-01-01T00:00:00+00:00", services=["email"])
    app_key, digits_key = create_key("app"), create_key("2024")

    sent = [send(app_key.token), send(digits_key.token)]

    assert [answer.status for answer in sent] == [200, 200]
    # The authorizer and the send path read roles by name and never write (they may not).
    assert "id" not in _stored("app")
    assert "id" not in _stored("2024")
    assert (app_key.shown["role"], digits_key.shown["role"]) == ("app", "2024")

    listed = call_api("GET", ROLES).body["resource"]

    assert [(r["name"], r["id"]) for r in listed] == [("2024", 1), ("app", 2)]
    assert _stored("app")["id"] == 2
    # In the path, digits are an id: the role named "2024" is found by its id.
    assert call_api("GET", f"{ROLES}/1").body["name"] == "2024"
    assert call_api("GET", f"{ROLES}/2024").status == 404
    keys = call_api("GET", "/api/v2/system/api_key").body["resource"]
    assert sorted(key["role"] for key in keys) == ["2024", "app", "bootstrap-admin"]
    assert [answer.status for answer in (send(app_key.token), send(digits_key.token))] == [200, 200]
