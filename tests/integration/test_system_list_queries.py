"""DreamFactory's list parameters on the system resources, through the API handler.

df-system `src/Resources/BaseSystemResource.php` `handleGET` (lines 66-122) applies `ids`,
`filter`, `include_count` and `count_only`; df-core `src/Components/DbRequestCriteria.php`
`getSelectionCriteria` (lines 42-117) reads `fields`, `filter`, `limit`, `offset` and `order`
(with its aliases `sort`, `order_by`, `skip`); df-core `src/Models/BaseModel.php`
`selectByRequest` (lines 1022-1076) orders by the primary key by default and `selectByIds`
(lines 955-1011) fails for an id that selects nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_service

pytestmark = pytest.mark.usefixtures("aws")

TEMPLATES = "/api/v2/system/email_template"
SERVICES = "/api/v2/system/service"
ROLES = "/api/v2/system/role"
KEYS = "/api/v2/system/api_key"
SMTP = {"host": "127.0.0.1", "port": 2525, "encryption": "none"}


def _get(path: str, query: str = "") -> ApiResponse:
    return call_api("GET", path, query=query)


def _ok(path: str, query: str = "") -> Any:
    response = _get(path, query)
    assert response.status == 200, response.body
    return response.body


def _filter(expression: str) -> str:
    """`filter=...` encoded as browsers and curl's --data-urlencode send it."""
    return "filter=" + quote(expression, safe="")


@pytest.fixture
def templates() -> list[dict[str, Any]]:
    made = []
    for name, description in (
        ("welcome", "Sent on sign-up"),
        ("invoice", "Monthly invoice"),
        ("password_reset", None),
    ):
        body = {"name": name, "description": description, "subject": "Hi", "body_text": "Hi"}
        response = call_api("POST", TEMPLATES, body)
        assert response.status == 201, response.body
        made.append(response.body)
    return made


def _names(answer: dict[str, Any]) -> list[str]:
    return [record["name"] for record in answer["resource"]]


# --- filter ------------------------------------------------------------------------------------


def test_a_filter_on_the_name_returns_exactly_that_template(templates: Any) -> None:
    """The script's call: `?filter=name='invoice'` (quoted, as df-core's parseFilterValue
    strips it) and `?filter=name=invoice` (bare) both select that record alone."""
    assert _names(_ok(TEMPLATES, _filter("name='invoice'"))) == ["invoice"]
    assert _names(_ok(TEMPLATES, _filter("name=invoice"))) == ["invoice"]
    assert _names(_ok(TEMPLATES, _filter('name = "invoice"'))) == ["invoice"]
    assert _ok(TEMPLATES, _filter("name='nope'")) == {"resource": []}


def test_the_admin_interfaces_search_filter(templates: Any) -> None:
    """df-admin-interface `src/app/shared/utilities/filter-queries.ts` line 21: the email
    templates table searches with `(name like "%v%") or (description like "%v%")`."""
    search = '(name like "%voice%") or (description like "%voice%")'
    assert _names(_ok(TEMPLATES, _filter(search))) == ["invoice"]
    search = '(name like "%SIGN%") or (description like "%SIGN%")'
    assert _names(_ok(TEMPLATES, _filter(search))) == ["welcome"]


def test_comparisons_null_and_logic(templates: Any) -> None:
    ids = [template["id"] for template in templates]
    assert _names(_ok(TEMPLATES, _filter(f"id > {ids[0]}"))) == ["invoice", "password_reset"]
    assert _names(_ok(TEMPLATES, _filter(f"id in ({ids[0]},'{ids[2]}')"))) == [
        "welcome",
        "password_reset",
    ]
    assert _names(_ok(TEMPLATES, _filter("description is null"))) == ["password_reset"]
    assert _names(_ok(TEMPLATES, _filter("(id >= 1) and (name != 'welcome')"))) == [
        "invoice",
        "password_reset",
    ]
    assert _names(_ok(TEMPLATES, _filter("name starts with 'pass' OR name ends with 'come'"))) == [
        "welcome",
        "password_reset",
    ]


def test_an_unknown_field_in_a_filter_is_a_400_naming_it(templates: Any) -> None:
    response = _get(TEMPLATES, _filter("nmae='invoice'"))

    assert response.status == 400
    assert response.reason == "invalid_filter"
    assert "'nmae'" in response.body["error"]["message"]
    assert response.body["error"]["context"]["field"] == "nmae"


@pytest.mark.parametrize(
    "expression",
    ["name=", "name='invoice", "(name='invoice'", "name ~ 'x'", "id = abc", "defaults = 'x'"],
)
def test_a_filter_that_cannot_be_read_is_a_400_never_ignored(
    templates: Any, expression: str
) -> None:
    response = _get(TEMPLATES, _filter(expression))

    assert response.status == 400, response.body
    assert response.reason == "invalid_filter"


# --- ids, fields, order, limit, offset, counts ---------------------------------------------------


def test_ids_select_those_records_and_a_missing_one_is_a_404(templates: Any) -> None:
    first, _, third = (template["id"] for template in templates)
    assert _names(_ok(TEMPLATES, f"ids={third},{first}")) == ["welcome", "password_reset"]

    missing = _get(TEMPLATES, f"ids={first},999")
    assert missing.status == 404
    assert missing.body["error"]["message"] == "Record with identifier '999' not found."


def test_fields_shape_each_record(templates: Any) -> None:
    answer = _ok(TEMPLATES, "fields=id,name")
    assert answer["resource"] == [{"id": t["id"], "name": t["name"]} for t in templates]
    assert _ok(TEMPLATES, "fields=*")["resource"] == templates

    unknown = _get(TEMPLATES, "fields=id,nmae")
    assert unknown.status == 400
    assert unknown.reason == "invalid_fields"
    assert unknown.body["error"]["context"]["fields"] == ["nmae"]


def test_order_limit_offset_and_the_count_before_them(templates: Any) -> None:
    answer = _ok(TEMPLATES, "order=name%20desc&limit=2&offset=1&include_count=true")
    assert _names(answer) == ["password_reset", "invoice"]
    assert answer["meta"] == {"count": 3}
    # `sort` is the alias DreamFactory's admin interface sends.
    assert _names(_ok(TEMPLATES, "sort=name")) == ["invoice", "password_reset", "welcome"]

    bad = _get(TEMPLATES, "order=nmae")
    assert bad.status == 400
    assert bad.reason == "invalid_order"


def test_count_only_answers_the_number_alone(templates: Any) -> None:
    """BaseSystemResource.php line 101: `count_only` returns countByRequest's number."""
    assert _ok(TEMPLATES, "count_only=true") == 3
    assert _ok(TEMPLATES, f"count_only=1&{_filter('name like %o%')}") == 3
    assert _ok(TEMPLATES, f"count_only=true&{_filter('name=invoice')}&limit=0") == 1


def test_the_admin_interfaces_template_list_call(templates: Any) -> None:
    """df-admin-interface `src/app/shared/services/df-base-crud.service.ts` lines 15-24 (the
    defaults of `getAll`) with `df-email-templates.resolver.ts`: `limit=50&offset=0&
    include_count=true`; the table reads `data.meta.count` (df-email-templates-table
    .component.ts line 88)."""
    answer = _ok(TEMPLATES, "limit=50&offset=0&include_count=true")

    assert answer == {"resource": templates, "meta": {"count": 3}}


def test_one_template_with_fields(templates: Any) -> None:
    """df-email-templates.resolver.ts line 21: the details page asks for `fields=*`."""
    template = templates[1]
    assert _ok(f"{TEMPLATES}/{template['id']}", "fields=*") == template
    assert _ok(f"{TEMPLATES}/{template['id']}", "fields=id,name") == {
        "id": template["id"],
        "name": "invoice",
    }


# --- what is not supported ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameter", ["group=name", "include_schema=true", "as_list=true", "having=x", "where=x"]
)
def test_dreamfactory_options_not_supported_are_a_400_naming_them(
    templates: Any, parameter: str
) -> None:
    response = _get(TEMPLATES, parameter)

    assert response.status == 400
    assert response.reason == "unsupported_parameter"
    name = parameter.split("=")[0]
    assert response.body["error"]["context"]["parameters"] == [name]
    assert f"'{name}'" in response.body["error"]["message"]


def test_related_records_a_template_does_not_have_are_a_400(templates: Any) -> None:
    response = _get(TEMPLATES, "related=role_by_role_id")

    assert response.status == 400
    assert response.reason == "unsupported_parameter"


def test_ids_on_one_record_is_refused(templates: Any) -> None:
    """df-system handleGET reads no `ids` for one record (line 74): refused, not ignored."""
    response = _get(f"{TEMPLATES}/{templates[0]['id']}", "ids=1")

    assert response.status == 400
    assert response.reason == "unsupported_parameter"


def test_parameters_that_are_not_dreamfactorys_are_ignored_as_before(templates: Any) -> None:
    assert _ok(TEMPLATES, "utm_source=x")["resource"] == templates


def test_empty_options_are_left_out_and_flags_read_as_dreamfactory_reads_them(
    templates: Any,
) -> None:
    """df-core skips an empty `ids` (BaseSystemResource.php line 85: `!empty`) and an empty
    filter (DbRequestCriteria.php line 211); `to_bool` (helpers.php lines 11-33) reads
    1/yes/on/t/y as true. A flag that is none of them is a 400 here, not false."""
    assert _ok(TEMPLATES, "filter=&ids=&order=&fields=")["resource"] == templates
    for flag in ("1", "yes", "TRUE", "on"):
        assert _ok(TEMPLATES, f"include_count={flag}")["meta"] == {"count": 3}
    assert "meta" not in _ok(TEMPLATES, "include_count=false")
    assert _get(TEMPLATES, "include_count=maybe").status == 400
    assert _get(TEMPLATES, "limit=-1").status == 400
    assert _names(_ok(TEMPLATES, "skip=2")) == ["password_reset"]
    both = _get(TEMPLATES, "order=id&sort=name")
    assert both.status == 400
    assert both.body["error"]["context"]["parameters"] == ["order", "sort"]


# --- services, roles, API keys -------------------------------------------------------------------


def test_services_as_the_admin_interface_lists_and_opens_them() -> None:
    """df-admin-interface `src/app/adf-services/resolvers/services.resolver.ts` lines 66-74
    (list: `sort=name` and a `type in (...)` filter) and 77-88 (one service, with
    `related=service_doc_by_service_id`: no API documents are kept here, so `[]`)."""
    create_service(SMTP, name="mailer", type="smtp_email")
    create_service(SMTP, name="billing", type="smtp")

    query = urlencode(
        {"filter": '(type in ("smtp_email","local_email"))', "sort": "name", "offset": 0}
    )
    answer = _ok(SERVICES, f"{query}&include_count=true")
    assert _names(answer) == ["mailer"]
    assert answer["meta"] == {"count": 1}

    one = _ok(f"{SERVICES}/mailer", "related=service_doc_by_service_id")
    assert one["name"] == "mailer"
    assert one["service_doc_by_service_id"] == []
    assert "password" not in one["config"]

    assert _names(_ok(SERVICES, _filter("name='billing'"))) == ["billing"]
    assert _ok(SERVICES, "fields=name,type") == {
        "resource": [{"name": "billing", "type": "smtp"}, {"name": "mailer", "type": "smtp_email"}]
    }
    assert _get(SERVICES, _filter("config = 'x'")).reason == "invalid_filter"


def test_roles_with_the_admin_interfaces_related_lookups() -> None:
    """df-admin-interface `src/app/adf-roles/resolvers/role.resolver.ts` lines 29-34: the role
    list asks for `related=lookup_by_role_id` sorted by name; no lookups exist here."""
    create_role("sender", services=["email"], max_recipients=5)
    create_role("auditor", description="reads", max_recipients=50)

    answer = _ok(ROLES, "related=lookup_by_role_id&sort=name&limit=50&offset=0&include_count=true")
    assert [(r["name"], r["lookup_by_role_id"]) for r in answer["resource"]] == [
        ("auditor", []),
        ("sender", []),
    ]
    assert answer["meta"] == {"count": 2}
    assert _names(_ok(ROLES, _filter("max_recipients > 10"))) == ["auditor"]
    assert _names(_ok(ROLES, _filter("name='sender'"))) == ["sender"]
    refused = _get(f"{ROLES}/sender", "related=role_service_access_by_role_id")
    assert refused.status == 400
    assert refused.reason == "unsupported_parameter"


def test_api_keys_by_filter_and_ids() -> None:
    create_role("sender", services=["email"])
    first = create_key("sender", label="shop")
    second = create_key("sender", label="crm")
    call_api("PATCH", f"{KEYS}/{second.id}", {"enabled": False})

    assert [k["id"] for k in _ok(KEYS, _filter("enabled = false"))["resource"]] == [second.id]
    assert [k["label"] for k in _ok(KEYS, _filter("label='shop'"))["resource"]] == ["shop"]
    assert [k["id"] for k in _ok(KEYS, f"ids={first.id}")["resource"]] == [first.id]
    assert _ok(KEYS, f"count_only=true&{_filter('role=sender')}") == 2
    assert _ok(f"{KEYS}/{first.id}", "fields=id,label") == {"id": first.id, "label": "shop"}
    bad = _get(KEYS, _filter("enabled = maybe"))
    assert bad.status == 400
    assert "true or false" in bad.body["error"]["message"]
