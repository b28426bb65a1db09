"""Email templates as DreamFactory's clients write them: its admin interface's form (every field,
the empty ones as `""`), `to` as the comma-separated string DreamFactory stores, and the names
every DreamFactory instance ships ("User Invite Default": spaces), addressed in the path."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import call_api, create_plain_service

pytestmark = pytest.mark.usefixtures("aws")

PATH = "/api/v2/system/email_template"
DEFAULT_NAMES = ("User Invite Default", "User Registration Default", "Password Reset Default")


def admin_form(name: str, **filled: str) -> dict[str, Any]:
    """What DreamFactory's admin interface posts for its template form: every field, `""` when
    left empty (df-admin-interface `src/app/adf-config/df-email-template-details/
    df-email-template-details.component.ts` lines 69-83, the form; 125-138, the payload; its
    case interceptor, `src/app/shared/interceptors/case.interceptor.ts`, makes the keys
    snake_case), in a `resource` batch (line 157)."""
    fields = {
        "name": name,
        "description": "",
        "to": "",
        "cc": "",
        "bcc": "",
        "subject": "",
        "attachment": "",
        "body_html": "",
        "from_name": "",
        "from_email": "",
        "reply_to_name": "",
        "reply_to_email": "",
    }
    return {"resource": [{**fields, **filled}]}


def test_the_admin_interfaces_create_with_empty_fields_and_a_comma_separated_to() -> None:
    """df-core `src/Models/EmailTemplate.php` lines 62-79 (`getJSONIfArray`): a `to`, `cc` or
    `bcc` with commas is split into its trimmed addresses and kept as a list, which its GET
    answers (`getArrayIfJSON`, lines 86-99); an empty field is no value."""
    created = call_api(
        "POST",
        PATH,
        admin_form(
            "Order Shipped",
            to="ops@example.com, audit@example.com",
            subject="Order {order_id} shipped",
            body_html="<p>Order {order_id} is on its way.</p>",
        ),
    )

    assert created.status == 201, created.body
    shown = call_api("GET", f"{PATH}/{quote('Order Shipped')}").body
    assert shown["to"] == ["ops@example.com", "audit@example.com"]
    for field in ("cc", "bcc", "attachment", "from_name", "from_email", "reply_to_name"):
        assert shown[field] is None, field
    assert (shown["description"], shown["reply_to_email"], shown["defaults"]) == (None, None, {})
    assert shown["subject"] == "Order {order_id} shipped"


def test_each_address_of_a_comma_separated_list_is_checked() -> None:
    refused = call_api("POST", PATH, admin_form("Bad", cc="ok@example.com, not-an-address"))

    assert (refused.status, refused.reason) == (400, "invalid_address"), refused.body
    assert call_api("GET", PATH).body["resource"] == []


def test_spaces_and_a_trailing_comma_are_no_address() -> None:
    created = call_api("POST", PATH, admin_form("Spaced", bcc=" a@example.com ,b@example.com, "))

    assert created.status == 201, created.body
    assert created.body["resource"][0]["bcc"] == ["a@example.com", "b@example.com"]


def test_an_update_with_empty_fields_clears_them() -> None:
    """The admin interface updates with the same form (`onSubmit`, line 142): `""` is no
    value there too."""
    call_api("POST", PATH, admin_form("Receipt", cc="books@example.com", from_name="Shop"))

    changed = call_api(
        "PATCH",
        f"{PATH}/Receipt",
        {"cc": "", "from_name": "", "bcc": "a@example.com,b@example.com"},
    )

    assert changed.status == 200, changed.body
    assert (changed.body["cc"], changed.body["from_name"]) == (None, None)
    assert changed.body["bcc"] == ["a@example.com", "b@example.com"]


def test_dreamfactorys_default_names_are_created_and_addressed_in_the_path() -> None:
    """df-core's migration `database/migrations/2015_01_27_190908_create_system_tables.php`
    line 142: a name is `string('name', 64)`, any characters; df-user's
    `database/seeds/EmailTemplateSeeder.php` ships the three names with spaces."""
    for name in DEFAULT_NAMES:
        assert call_api("POST", PATH, admin_form(name)).status == 201

    # As a client puts them in a URL: percent-encoded (what API Gateway hands on as `path`).
    by_name = call_api("GET", f"{PATH}/User%20Invite%20Default")
    changed = call_api("PATCH", f"{PATH}/Password%20Reset%20Default", {"subject": "Reset"})
    deleted = call_api("DELETE", f"{PATH}/User%20Registration%20Default")

    assert (by_name.status, by_name.body["name"]) == (200, "User Invite Default")
    assert (changed.status, changed.body["subject"]) == (200, "Reset")
    assert deleted.status == 200, deleted.body
    names = [template["name"] for template in call_api("GET", PATH).body["resource"]]
    assert names == ["User Invite Default", "Password Reset Default"]


def test_a_name_with_a_percent_sign_is_found_by_its_encoded_form() -> None:
    call_api("POST", PATH, {"name": "50% off", "subject": "Sale"})

    assert call_api("GET", f"{PATH}/{quote('50% off', safe='')}").body["name"] == "50% off"


@pytest.mark.parametrize(
    "name",
    ["123", " Leading", "Trailing ", "Line\nbreak", "Tab\there", "Bell\x07", "x" * 129, ""],
)
def test_names_that_are_still_refused(name: str) -> None:
    refused = call_api("POST", PATH, {"name": name, "subject": "x"})

    assert (refused.status, refused.reason) == (400, "invalid_template_name"), refused.body


def test_a_role_names_a_default_template_and_sends_through_it_only() -> None:
    create_plain_service(1)  # refused before any connection: the port is never tried
    call_api("POST", PATH, {"name": "User Invite Default", "subject": "Invitation"})
    role = create_role("inviter", services=["email"], templates=["User Invite Default"])
    key = create_key("inviter")

    other = call_api(
        "POST", "/api/v2/email", {"template": "Other One", "to": "a@example.com"}, api_key=key.token
    )

    assert role["templates"] == ["User Invite Default"]
    assert other.status == 403, other.body
