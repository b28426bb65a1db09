"""Stored email templates through `/api/v2/system/email_template`, and roles limited to some."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from core import runtime
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api

pytestmark = pytest.mark.usefixtures("aws")

PATH = "/api/v2/system/email_template"
WELCOME: dict[str, Any] = {
    "name": "welcome",
    "description": "Sent on sign-up",
    "to": [{"email": "john@example.com", "name": "John Doe"}],
    "cc": "jane@example.com",
    "subject": "Welcome, {first_name}",
    "body_text": "Hello {first_name}, welcome to {site}.",
    "body_html": "<p>Hello {first_name}, welcome to {site}.</p>",
    "from_name": "Example Shop",
    "from_email": "shop@example.com",
    "reply_to_name": "Support",
    "reply_to_email": "support@example.com",
    "defaults": {"first_name": "friend", "site": "Example", "ratio": 1.5, "count": 3, "vip": True},
    "attachment": [{"name": "terms.txt", "content": "VGVybXM=", "content_type": "text/plain"}],
}


def _create(body: dict[str, Any]) -> dict[str, Any]:
    response = call_api("POST", PATH, body)
    assert response.status == 201, response.body
    created: dict[str, Any] = response.body
    return created


def _names() -> list[str]:
    return [template["name"] for template in call_api("GET", PATH).body["resource"]]


def _field(response: ApiResponse) -> str:
    context = response.body["error"]["context"]
    field: str = context["field"] if "field" in context else context["errors"][0]["field"]
    return field


# --- create and read -----------------------------------------------------------------------------


def test_create_and_read_by_id_and_by_name() -> None:
    created = _create(WELCOME)

    assert created == {
        **WELCOME,
        "id": 1,
        "bcc": None,
        "headers": None,
        "list_unsubscribe": None,
        "template_syntax": None,
        "created_date": created["created_date"],
        "last_modified_date": created["created_date"],
    }
    assert created["created_date"]
    assert call_api("GET", f"{PATH}/1").body == created
    assert call_api("GET", f"{PATH}/welcome").body == created
    assert call_api("GET", PATH).body == {"resource": [created]}


def test_a_template_needs_only_a_name() -> None:
    created = _create({"name": "Blank.v2"})

    assert created["defaults"] == {}
    assert {field: created[field] for field in ("to", "subject", "body_text", "attachment")} == {
        "to": None,
        "subject": None,
        "body_text": None,
        "attachment": None,
    }


def test_create_several_at_once_with_increasing_ids() -> None:
    response = call_api(
        "POST", PATH, {"resource": [{"name": "welcome"}, {"name": "receipt", "subject": "Paid"}]}
    )

    assert response.status == 201, response.body
    assert [(t["id"], t["name"]) for t in response.body["resource"]] == [
        (1, "welcome"),
        (2, "receipt"),
    ]
    assert _names() == ["welcome", "receipt"]  # by id


def test_ids_are_never_reused() -> None:
    _create({"name": "first"})
    assert call_api("DELETE", f"{PATH}/first").status == 200

    assert _create({"name": "second"})["id"] == 2
    assert _create({"name": "first"})["id"] == 3
    assert call_api("GET", f"{PATH}/1").status == 404


def test_duplicate_name_is_a_conflict_and_changes_nothing() -> None:
    _create({"name": "welcome", "subject": "first"})

    response = call_api("POST", PATH, {"name": "welcome", "subject": "second"})

    assert (response.status, response.reason) == (409, "template_exists")
    assert call_api("GET", f"{PATH}/welcome").body["subject"] == "first"
    # The failed create used up an id, as an auto-increment does; nothing points at it.
    assert call_api("GET", f"{PATH}/2").status == 404
    assert _create({"name": "other"})["id"] == 3


def test_a_batch_stops_at_its_first_duplicate() -> None:
    response = call_api(
        "POST", PATH, {"resource": [{"name": "a"}, {"name": "b"}, {"name": "a"}, {"name": "c"}]}
    )

    assert (response.status, response.reason) == (409, "template_exists")
    assert _names() == ["a", "b"]


def test_unknown_template_is_dreamfactorys_404() -> None:
    for method in ("GET", "PATCH", "DELETE"):
        by_name = call_api(method, f"{PATH}/nothing", {"subject": "x"})
        by_id = call_api(method, f"{PATH}/42", {"subject": "x"})

        assert (by_name.status, by_name.reason) == (404, "template_not_found")
        assert by_name.body["error"]["message"] == "Email Template 'nothing' not found"
        assert (by_id.status, by_id.reason) == (404, "template_not_found")
        assert by_id.body["error"]["message"] == "Email Template id '42' not found"


# --- what a template may not be ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"name": " welcome"}, "name", "invalid_template_name"),
        ({"name": "wel\tcome"}, "name", "invalid_template_name"),
        ({"name": "123"}, "name", "invalid_template_name"),  # it would read as an id
        ({"to": "not-an-address"}, "to", "invalid_address"),
        ({"cc": [{"email": "jane@example.com"}, {"name": "no address"}]}, "cc", "invalid_address"),
        ({"bcc": 5}, "bcc", "invalid_address"),
        ({"from_email": "shop@"}, "from_email", "invalid_address"),
        ({"reply_to_email": "support"}, "reply_to_email", "invalid_address"),
        ({"subject": "Hi\r\nBcc: victim@example.com"}, "subject", "header_injection"),
        ({"from_name": "Shop\nX-Spam: no"}, "from_name", "header_injection"),
        ({"reply_to_name": "Support\x00"}, "", "invalid_character"),  # NUL, anywhere
        ({"subject": ["not", "text"]}, "subject", "invalid_request"),
        ({"defaults": "first_name"}, "defaults", "invalid_request"),
        ({"defaults": {"huge": 1e300}}, "defaults.huge", "invalid_request"),
        ({"attachment": 5}, "attachment", "invalid_attachment"),
        ({"attachment": ["https://example.com/a.pdf", 7]}, "attachment.1", "invalid_attachment"),
        ({"attachment": "https://example.com/a.pdf\r\nX: y"}, "attachment", "header_injection"),
        ({"attachment": " , "}, "attachment", "invalid_attachment"),
        ({"attachment": {"name": "a.pdf", "content": "%%%"}}, "attachment", "invalid_base64"),
        ({"attachment": [{"name": "a.pdf"}]}, "attachment.0.content", "invalid_request"),
        (
            {"attachment": [{"path": "a.pdf", "service": "files"}]},
            "attachment.0",
            "invalid_attachment",
        ),
        ({"id": "7"}, "id", "invalid_request"),
        ({"template": "other"}, "template", "invalid_request"),
    ],
)
def test_invalid_template_is_refused_naming_the_field(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    response = call_api("POST", PATH, {"name": "welcome", **fields})

    assert (response.status, response.reason) == (400, reason), response.body
    if field:
        assert _field(response) == field
    assert _names() == []


def test_the_attachment_forms_dreamfactory_takes() -> None:
    forms: list[Any] = [
        "https://example.com/terms.pdf",
        "https://example.com/terms.pdf,https://example.com/prices.pdf",
        ["https://example.com/terms.pdf", "files/prices.pdf"],
        {"name": "terms.txt", "content": "VGVy\nbXM="},
        [{"name": "terms.txt", "content": "VGVybXM="}, "https://example.com/prices.pdf"],
    ]
    for index, attachment in enumerate(forms):
        created = _create({"name": f"t{index}", "attachment": attachment})
        assert created["attachment"] == attachment  # kept in the form given


def test_a_template_over_256_kib_is_refused() -> None:
    response = call_api("POST", PATH, {"name": "huge", "body_html": "x" * (256 * 1024)})

    assert (response.status, response.reason) == (413, "template_too_large")
    assert _names() == []
    # Refused before an id was given to it.
    assert _create({"name": "big", "body_html": "x" * (250 * 1024)})["id"] == 1


# --- change --------------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields_and_null_clears() -> None:
    before = _create(WELCOME)

    response = call_api(
        "PATCH",
        f"{PATH}/welcome",
        {"subject": "Hi {first_name}", "reply_to_email": None, "cc": None, "defaults": None},
    )

    assert response.status == 200, response.body
    after = response.body
    assert after == {
        **before,
        "subject": "Hi {first_name}",
        "reply_to_email": None,
        "cc": None,
        "defaults": {},
        "last_modified_date": after["last_modified_date"],
    }
    assert call_api("GET", f"{PATH}/1").body == after


def test_patch_by_id_accepts_the_record_sent_back_as_fetched() -> None:
    before = _create(WELCOME)

    response = call_api("PATCH", f"{PATH}/1", {**before, "description": "Changed"})

    assert response.status == 200, response.body
    assert response.body["description"] == "Changed"
    assert response.body["created_date"] == before["created_date"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"subjekt": "typo", "colour": "red"}, "colour"),
        ({"id": 9}, "id"),
        ({"to": "nobody"}, "to"),
        ({"subject": "a\nb"}, "subject"),
        ({"name": None}, "name"),
        ({"name": "42"}, "name"),
        ({"attachment": [None]}, "attachment.0"),
        # Sent back as fetched, a date is text (schemathesis sent a number, which was ignored).
        ({"created_date": 2.07e16}, "created_date"),
        ({"last_modified_date": ["2026-12-04"]}, "last_modified_date"),
    ],
)
def test_invalid_patch_changes_nothing(patch: dict[str, Any], field: str) -> None:
    before = _create(WELCOME)

    response = call_api("PATCH", f"{PATH}/welcome", patch)

    assert response.status == 400, response.body
    context = response.body["error"]["context"]
    assert field in (context["fields"] if "fields" in context else [_field(response)])
    assert call_api("GET", f"{PATH}/welcome").body == before


def test_rename_keeps_the_id() -> None:
    before = _create(WELCOME)

    response = call_api("PATCH", f"{PATH}/1", {"name": "welcome.v2"})

    assert response.status == 200, response.body
    assert (response.body["id"], response.body["name"]) == (1, "welcome.v2")
    assert call_api("GET", f"{PATH}/1").body == response.body
    assert call_api("GET", f"{PATH}/welcome.v2").body == response.body
    assert call_api("GET", f"{PATH}/welcome").status == 404
    assert call_api("GET", PATH).body == {"resource": [response.body]}
    assert response.body["created_date"] == before["created_date"]


def test_rename_onto_a_taken_name_is_a_conflict() -> None:
    _create({"name": "welcome"})
    _create({"name": "receipt"})

    response = call_api("PATCH", f"{PATH}/welcome", {"name": "receipt", "subject": "x"})

    assert (response.status, response.reason) == (409, "template_exists")
    assert _names() == ["welcome", "receipt"]
    assert call_api("GET", f"{PATH}/welcome").body["subject"] is None


def test_a_rename_cut_short_is_hidden_then_finished_by_trying_again() -> None:
    _create({"name": "welcome", "subject": "Hi"})
    # As if the function died after writing the new name, before moving the id's pointer.
    table = boto3.resource("dynamodb").Table("email-api-templates")
    stored = table.get_item(Key={"key": "name:welcome"})["Item"]
    table.put_item(Item={**stored, "key": "name:hello", "name": "hello"})
    assert _names() == ["welcome"]

    response = call_api("PATCH", f"{PATH}/welcome", {"name": "hello"})

    assert response.status == 200, response.body
    assert _names() == ["hello"]
    assert call_api("GET", f"{PATH}/1").body["name"] == "hello"


# --- delete --------------------------------------------------------------------------------------


def test_delete_by_name_or_id() -> None:
    _create({"name": "welcome"})
    _create({"name": "receipt"})

    by_name = call_api("DELETE", f"{PATH}/welcome")
    by_id = call_api("DELETE", f"{PATH}/2")

    assert (by_name.status, by_name.body) == (200, {"id": 1, "name": "welcome"})
    assert (by_id.status, by_id.body) == (200, {"id": 2, "name": "receipt"})
    assert call_api("GET", PATH).body == {"resource": []}
    for path in ("welcome", "1", "receipt", "2"):
        assert call_api("GET", f"{PATH}/{path}").status == 404


# --- how it is kept ------------------------------------------------------------------------------


def test_placeholder_defaults_keep_their_types() -> None:
    _create(WELCOME)
    runtime.reset()  # a cold container: everything read back from DynamoDB

    shown = call_api("GET", f"{PATH}/welcome").body
    stored = runtime.template_repository().by_id(1)

    assert shown["defaults"] == WELCOME["defaults"]
    assert stored.defaults == WELCOME["defaults"]
    assert stored.message_fields()["attachment"] == WELCOME["attachment"]


# --- who may -------------------------------------------------------------------------------------


def test_only_admin_keys_may_manage_templates() -> None:
    _create({"name": "welcome"})
    create_role("app", services=["*"], templates=["*"])
    key = create_key("app").token
    attempts = [
        ("GET", PATH, None),
        ("POST", PATH, {"name": "mine"}),
        ("GET", f"{PATH}/welcome", None),
        ("GET", f"{PATH}/1", None),
        ("PATCH", f"{PATH}/welcome", {"subject": "x"}),
        ("DELETE", f"{PATH}/1", None),
    ]
    for method, path, body in attempts:
        response = call_api(method, path, body, api_key=key)
        assert response.status == 403, (method, path, response.body)
        assert call_api(method, path, body, api_key=None).status == 401
    assert call_api("GET", f"{PATH}/welcome").body["subject"] is None
    assert _names() == ["welcome"]


def test_changes_are_on_the_audit_trail(function_logs: Callable[[], str]) -> None:
    _create({"name": "welcome"})
    call_api("PATCH", f"{PATH}/1", {"subject": "Hi"})
    call_api("DELETE", f"{PATH}/welcome")

    lines = [json.loads(line) for line in function_logs().splitlines()]
    audited = [
        (line["audit"]["action"], line["audit"]["target"])
        for line in lines
        if line["message"] == "audit"
    ]
    assert audited == [
        ("email_template.create", "welcome"),
        ("email_template.update", "welcome"),
        ("email_template.delete", "welcome"),
    ]


# --- roles limited to some templates -------------------------------------------------------------


def test_a_role_may_name_its_templates() -> None:
    created = create_role("billing", services=["email"], templates=["invoice", "Reminder.v2"])

    assert created["templates"] == ["invoice", "Reminder.v2"]
    assert call_api("GET", "/api/v2/system/role/billing").body["templates"] == [
        "invoice",
        "Reminder.v2",
    ]
    assert create_role("any", templates=["*"])["templates"] == ["*"]
    assert create_role("free")["templates"] is None  # no restriction


def test_a_roles_templates_can_be_changed_and_lifted() -> None:
    create_role("billing", templates=["invoice"])

    changed = call_api(
        "PATCH", "/api/v2/system/role/billing", {"templates": ["invoice", "receipt"]}
    )
    lifted = call_api("PATCH", "/api/v2/system/role/billing", {"templates": None})

    assert changed.body["templates"] == ["invoice", "receipt"]
    assert lifted.body["templates"] is None
    assert call_api("GET", "/api/v2/system/role/billing").body["templates"] is None


@pytest.mark.parametrize("templates", [["bad\nname"], "invoice", [5]])
def test_a_roles_templates_must_be_template_names(templates: Any) -> None:
    response = call_api("POST", "/api/v2/system/role", {"name": "billing", "templates": templates})

    assert response.status == 400, response.body
    assert _field(response).startswith("templates")
    assert call_api("GET", "/api/v2/system/role/billing").status == 404
