"""DreamFactory's verbs on the system resources (`email_template`, `service`, `role`,
`api_key`), through the API handler behind its authorizer: PUT, batch update and delete, verb
tunnelling, and bare list bodies.

DreamFactory's code read for each (dreamfactorysoftware, at the commits fetched for issue 20):
- df-system `src/Resources/BaseSystemResource.php`: PUT is an alias of PATCH (lines 42-44);
  `handlePATCH` (161-200) updates one record by path, else the records of the body (by `id`),
  else `ids` with the body's one record; `handleDELETE` (209-245) deletes `ids`, else the body's
  records, else (`filter` aside) refuses with "No filter or records given for delete request."
  unless `force`.
- df-core `src/Models/BaseModel.php`: `bulkUpdate` (429-486) and `bulkDelete` (580-637) go record
  by record, stop at the first failure unless `continue`, and throw a `BatchException`;
  `updateByIds` (403-421) applies one record to each id.
- df-core `src/Exceptions/BatchException.php` (32-53): the failure's `context` is
  `{"error": [indexes], "resource": [outcome or error, ...]}`.
- df-core `src/Utility/ResourcesWrapper.php` `unwrapResources` (113-122): a bare list is a batch.
- df-core `src/Http/Middleware/VerbOverrides.php` (27-43): a POST's `X-HTTP-Method`, else
  `X-Method-Override`, else `?method=` (Symfony: `X-HTTP-Method-Override`, `_method`) is the
  verb; MERGE is PATCH.
- df-admin-interface `src/app/shared/services/df-base-crud.service.ts`: `update` is a PUT to
  `<resource>/<id>` (70-80), `delete` of several a DELETE `?ids=1,2` (93-106), `legacyDelete` a
  POST with `X-Http-Method: DELETE` (82-91); its create form reads a failure's
  `error.context.resource[0].message`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_service

pytestmark = pytest.mark.usefixtures("aws")

ReadLogs = Callable[[], str]
SYSTEM = "/api/v2/system"


@dataclass(frozen=True)
class Resource:
    """One system resource: how a test makes a record, what picks it, and a change to it."""

    name: str
    make: Callable[[str], dict[str, Any]]
    picked_by: str  # the field a batch names a record by, in these tests
    change: dict[str, Any]
    changed: Callable[[dict[str, Any]], Any]
    shown_deleted: Callable[[dict[str, Any]], dict[str, Any]] = field(
        default=lambda record: {"id": record["id"], "name": record["name"]}
    )

    @property
    def path(self) -> str:
        return f"{SYSTEM}/{self.name}"

    def item(self, record: dict[str, Any]) -> str:
        return f"{self.path}/{record[self.picked_by]}"

    def get(self, record: dict[str, Any]) -> ApiResponse:
        return call_api("GET", self.item(record))


def _template(name: str) -> dict[str, Any]:
    response = call_api("POST", f"{SYSTEM}/email_template", {"name": name, "subject": "Hi"})
    assert response.status == 201, response.body
    created: dict[str, Any] = response.body
    return created


def _service(name: str) -> dict[str, Any]:
    return create_service(
        {"host": "127.0.0.1", "port": 2525, "encryption": "none", "from_email": "a@example.com"},
        name=name,
    )


def _key(label: str) -> dict[str, Any]:
    if call_api("GET", f"{SYSTEM}/role/app").status == 404:
        create_role("app")
    shown = create_key("app", label=label).shown
    return {field: value for field, value in shown.items() if field != "key"}  # shown once


TEMPLATES = Resource(
    "email_template",
    _template,
    "id",
    {"subject": "Changed"},
    lambda record: record["subject"],
    shown_deleted=lambda record: {"id": record["id"], "name": record["name"]},
)
SERVICES = Resource(
    "service", _service, "name", {"label": "Changed"}, lambda record: record["label"]
)
ROLES = Resource(
    "role", create_role, "name", {"max_recipients": 7}, lambda record: record["max_recipients"]
)
KEYS = Resource(
    "api_key",
    _key,
    "id",
    {"label": "Changed"},
    lambda record: record["label"],
    shown_deleted=lambda record: {"id": record["id"]},
)
RESOURCES = pytest.mark.parametrize(
    "resource", [TEMPLATES, SERVICES, ROLES, KEYS], ids=lambda resource: resource.name
)


def _names(count: int) -> list[str]:
    return [f"rec-{index}" for index in range(count)]


def _audit_lines(logs: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [line["audit"] for line in lines if line["message"] == "audit"]


# --- PUT is PATCH ---------------------------------------------------------------------------------


@RESOURCES
def test_put_on_a_record_updates_it_as_patch_does(resource: Resource) -> None:
    """df-system BaseSystemResource.php lines 42-44: `Verbs::PUT => Verbs::PATCH`."""
    record = resource.make("one")

    response = call_api("PUT", resource.item(record), resource.change)

    assert response.status == 200, response.body
    assert resource.changed(response.body) == next(iter(resource.change.values()))
    assert resource.changed(resource.get(record).body) == next(iter(resource.change.values()))


# --- batch update ---------------------------------------------------------------------------------


@RESOURCES
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_a_batch_update_changes_each_record_it_names(resource: Resource, method: str) -> None:
    """df-system BaseSystemResource.php `handlePATCH` lines 171-191 (`bulkUpdate`): each record
    of the `resource` batch, picked by its id (here: by name for services and roles)."""
    first, second, untouched = (resource.make(name) for name in _names(3))
    batch = [
        {resource.picked_by: r[resource.picked_by], **resource.change} for r in (first, second)
    ]

    response = call_api(method, resource.path, {"resource": batch})

    assert response.status == 200, response.body
    assert [r[resource.picked_by] for r in response.body["resource"]] == [
        first[resource.picked_by],
        second[resource.picked_by],
    ]
    assert all(
        resource.changed(r) == next(iter(resource.change.values()))
        for r in response.body["resource"]
    )
    assert resource.get(untouched).body == untouched


@pytest.mark.parametrize("resource", [TEMPLATES, KEYS], ids=lambda resource: resource.name)
def test_ids_apply_one_record_to_each(resource: Resource) -> None:
    """df-system BaseSystemResource.php lines 176-178 and df-core BaseModel.php `updateByIds`
    lines 403-421: with `ids`, the body's one record changes each of them."""
    first, untouched, second = (resource.make(name) for name in _names(3))

    response = call_api(
        "PATCH",
        resource.path,
        {"resource": [resource.change]},
        query=f"ids={first['id']},{second['id']}",
    )

    assert response.status == 200, response.body
    assert [r["id"] for r in response.body["resource"]] == [first["id"], second["id"]]
    assert resource.changed(resource.get(second).body) == next(iter(resource.change.values()))
    assert resource.get(untouched).body == untouched


def test_a_template_batch_picks_by_name_when_a_record_has_no_id() -> None:
    first, second = _template("first"), _template("second")

    response = call_api(
        "PATCH",
        f"{SYSTEM}/email_template",
        {"resource": [{"id": first["id"], "name": "renamed"}, {"name": "second", "subject": "S"}]},
    )

    assert response.status == 200, response.body
    assert [(r["id"], r["name"], r["subject"]) for r in response.body["resource"]] == [
        (first["id"], "renamed", "Hi"),
        (second["id"], "second", "S"),
    ]


def test_a_batch_stops_at_its_first_failure_and_says_what_each_record_became(
    function_logs: ReadLogs,
) -> None:
    """df-core BaseModel.php `bulkUpdate` lines 448-468: the first failure stops the batch
    (without `continue`) and what was done stays done; BatchException.php lines 32-53: the
    failure's context lists the failed indexes and each record's outcome, which the admin
    interface reads as `error.context.resource[i].message`. The status and reason are the
    failed record's own, as for a batch create."""
    first, second = _template("first"), _template("second")
    batch = [
        {"id": first["id"], "subject": "One"},
        {"id": 99, "subject": "Two"},
        {"id": second["id"], "subject": "Three"},
    ]

    response = call_api("PATCH", f"{SYSTEM}/email_template", {"resource": batch})

    assert (response.status, response.reason) == (404, "template_not_found")
    context = response.body["error"]["context"]
    assert context["error"] == [1]
    assert context["resource"][0]["subject"] == "One"
    assert context["resource"][1]["message"] == "Email Template id '99' not found"
    assert len(context["resource"]) == 2  # stopped: the third was never tried
    assert TEMPLATES.get(first).body["subject"] == "One"
    assert TEMPLATES.get(second).body["subject"] == "Hi"
    assert [(line["action"], line["target"]) for line in _audit_lines(function_logs())][-1] == (
        "email_template.update",
        "first",
    )


@pytest.mark.parametrize(
    ("record", "status", "reason"),
    [
        ({"name": "2024"}, 400, "invalid_template_name"),
        ({"name": "taken"}, 409, "template_exists"),
    ],
)
def test_a_batch_create_failure_says_what_the_admin_interface_reads(
    record: dict[str, Any], status: int, reason: str
) -> None:
    """df-admin-interface `df-email-template-details.component.ts` creates with
    `{resource: [form]}` and shows `error.context.resource[0].message` when that fails
    (BatchException.php lines 32-53). A record refused by its checks is refused before any
    is written (the ones before it are `null`: not created); one refused when written (a
    name in use) follows those written."""
    _template("taken")

    response = call_api(
        "POST", f"{SYSTEM}/email_template", {"resource": [{"name": "fine"}, record]}
    )

    assert (response.status, response.reason) == (status, reason)
    context = response.body["error"]["context"]
    assert context["error"] == [1]
    assert context["resource"][1]["message"] == response.body["error"]["message"]
    assert context["resource"][1]["reason"] == reason
    created = [
        template["name"]
        for template in call_api("GET", f"{SYSTEM}/email_template").body["resource"]
    ]
    assert created == (["taken"] if status == 400 else ["taken", "fine"])
    assert (context["resource"][0] is None) == (status == 400)


def test_continue_goes_on_past_a_failed_record() -> None:
    """df-core BaseModel.php lines 438 and 455: `continue=true` tries every record; the
    answer is still the batch's failure, naming each record's outcome."""
    first, second = _template("first"), _template("second")
    batch = [
        {"id": first["id"], "subject": "One"},
        {"id": 99},
        {"id": second["id"], "subject": "3"},
    ]

    response = call_api(
        "PATCH", f"{SYSTEM}/email_template", {"resource": batch}, query="continue=true"
    )

    assert response.status == 404
    assert response.body["error"]["context"]["error"] == [1]
    assert [TEMPLATES.get(r).body["subject"] for r in (first, second)] == ["One", "3"]


def test_rollback_is_refused_before_anything_changes() -> None:
    """df-core BaseModel.php lines 437-471 roll a failed batch back in a transaction; these
    tables have none across records, so `rollback=true` is a 400, never silently dropped."""
    record = _template("first")

    response = call_api(
        "PATCH",
        f"{SYSTEM}/email_template",
        {"resource": [{"id": record["id"], "subject": "x"}]},
        query="rollback=true",
    )

    assert (response.status, response.reason) == (400, "rollback_not_supported")
    assert TEMPLATES.get(record).body == record


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_filter_on_a_batch_is_a_400_not_ignored(method: str) -> None:
    """df-system BaseSystemResource.php lines 180-189 and 226-229 change or delete by `filter`;
    ignored here, it would change the records the body names, or none of those meant."""
    record = _template("first")

    response = call_api(
        method,
        f"{SYSTEM}/email_template",
        {"resource": [{"id": record["id"], "subject": "x"}]},
        query="filter=name%3D%27first%27",
    )

    assert (response.status, response.reason) == (400, "filter_not_supported")
    assert TEMPLATES.get(record).body == record


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_fields_on_a_batch_is_a_400_not_ignored(method: str) -> None:
    """df-core BaseModel.php's bulk answers honour `fields`; here a batch answers the records
    as changed (or what each DELETE answers), so `fields` is refused before anything changes."""
    record = _template("first")

    response = call_api(
        method,
        f"{SYSTEM}/email_template",
        {"resource": [{"id": record["id"], "subject": "x"}]},
        query="fields=id",
    )

    assert (response.status, response.reason) == (400, "unsupported_parameter")
    assert TEMPLATES.get(record).status == 200
    assert TEMPLATES.get(record).body["subject"] == record["subject"]


def test_a_batch_record_naming_no_record_is_a_400_before_any_change() -> None:
    record = _template("first")

    response = call_api(
        "PATCH",
        f"{SYSTEM}/email_template",
        {"resource": [{"id": record["id"], "subject": "x"}, {"subject": "y"}]},
    )

    assert response.status == 400
    assert "'resource.1'" in response.body["error"]["message"]
    assert TEMPLATES.get(record).body == record


def test_a_bad_key_change_in_a_batch_is_a_400_before_any_change() -> None:
    first, second = _key("first"), _key("second")

    response = call_api(
        "PATCH",
        f"{SYSTEM}/api_key",
        [{"id": first["id"], "label": "ok"}, {"id": second["id"], "enabled": "yes"}],
    )

    assert response.status == 400
    assert response.body["error"]["context"]["errors"][0]["field"] == "resource.1.enabled"
    assert KEYS.get(first).body["label"] == "first"


def test_a_collection_patch_without_a_batch_or_ids_is_a_400() -> None:
    """df-system BaseSystemResource.php lines 171-174: "No record(s) detected in request."."""
    record = _template("first")

    response = call_api("PATCH", f"{SYSTEM}/email_template", {"id": record["id"], "subject": "x"})

    assert (response.status, response.reason) == (400, "no_records")


# --- batch delete ---------------------------------------------------------------------------------


@RESOURCES
def test_delete_by_ids(resource: Resource, function_logs: ReadLogs) -> None:
    """df-system BaseSystemResource.php lines 219-220 (`deleteByIds`): as the admin interface
    deletes several (df-base-crud.service.ts lines 97-98). Each is audited as one DELETE."""
    first, kept, second = (resource.make(name) for name in _names(3))
    ids = ",".join(str(r[resource.picked_by]) for r in (first, second))

    response = call_api("DELETE", resource.path, query=f"ids={ids}")

    assert response.status == 200, response.body
    assert response.body == {"resource": [resource.shown_deleted(r) for r in (first, second)]}
    assert resource.get(first).status == resource.get(second).status == 404
    assert resource.get(kept).status == 200
    deletes = [line for line in _audit_lines(function_logs()) if line["action"].endswith(".delete")]
    assert len(deletes) == 2


@RESOURCES
def test_delete_by_a_resource_body(resource: Resource) -> None:
    """df-system BaseSystemResource.php lines 222-224 (`bulkDelete`)."""
    first, kept = (resource.make(name) for name in _names(2))

    response = call_api(
        "DELETE", resource.path, {"resource": [{resource.picked_by: first[resource.picked_by]}]}
    )

    assert response.status == 200, response.body
    assert response.body == {"resource": [resource.shown_deleted(first)]}
    assert resource.get(first).status == 404
    assert resource.get(kept).status == 200


@RESOURCES
@pytest.mark.parametrize("query", ["", "force=true"])
def test_a_delete_on_the_collection_naming_nothing_is_a_400(resource: Resource, query: str) -> None:
    """df-system BaseSystemResource.php lines 231-235: "No filter or records given for delete
    request." DreamFactory empties the table with `force=true`; here never."""
    record = resource.make("kept")

    response = call_api("DELETE", resource.path, query=query)

    assert (response.status, response.reason) == (400, "no_records")
    assert resource.get(record).status == 200


def test_a_role_in_use_stays_in_a_batch_delete() -> None:
    """Each role is deleted as one DELETE is: a role an API key has is a 409."""
    free, used = create_role("free"), create_role("used")
    create_key("used")

    response = call_api("DELETE", f"{SYSTEM}/role", query="ids=free,used")

    assert (response.status, response.reason) == (409, "role_in_use")
    assert response.body["error"]["context"]["resource"][0] == {"id": free["id"], "name": "free"}
    assert ROLES.get(free).status == 404
    assert ROLES.get(used).status == 200


# --- bare list bodies -----------------------------------------------------------------------------


def test_a_bare_list_creates_and_updates_as_a_resource_batch() -> None:
    """df-core ResourcesWrapper.php lines 113-122: a list payload is the records."""
    created = call_api("POST", f"{SYSTEM}/role", [{"name": "one"}, {"name": "two"}])
    changed = call_api("PATCH", f"{SYSTEM}/role", [{"name": "one", "max_recipients": 3}])

    assert created.status == 201, created.body
    assert [role["name"] for role in created.body["resource"]] == ["one", "two"]
    assert changed.status == 200, changed.body
    assert changed.body["resource"][0]["max_recipients"] == 3


def test_a_bare_list_is_still_refused_where_one_record_is_taken() -> None:
    record = _template("first")

    response = call_api("PATCH", f"{SYSTEM}/email_template/{record['id']}", [{"subject": "x"}])

    assert response.status == 400
    assert response.body["error"]["message"] == "The request body must be a JSON object."


# --- verb override --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-HTTP-Method": "DELETE"}, ""),
        ({"X-Http-Method": "delete"}, ""),
        ({"X-HTTP-Method-Override": "DELETE"}, ""),
        ({"X-Method-Override": "DELETE"}, ""),
        ({}, "method=DELETE"),
        ({}, "_method=DELETE"),
    ],
)
def test_a_post_naming_delete_deletes(headers: dict[str, str], query: str) -> None:
    """df-core VerbOverrides.php lines 29-36; as the admin interface's `legacyDelete`
    (df-base-crud.service.ts lines 82-91): a POST with no body."""
    record = _template("first")

    response = call_api(
        "POST", f"{SYSTEM}/email_template/{record['id']}", headers=headers, query=query
    )

    assert response.status == 200, response.body
    assert response.body == {"id": record["id"], "name": "first"}
    assert TEMPLATES.get(record).status == 404


@RESOURCES
@pytest.mark.parametrize("verb", ["PUT", "PATCH", "MERGE"])
def test_a_post_naming_an_update_updates(resource: Resource, verb: str) -> None:
    """df-core VerbOverrides.php lines 37-40: MERGE is PATCH."""
    record = resource.make("one")

    response = call_api(
        "POST", resource.item(record), resource.change, headers={"X-HTTP-Method": verb}
    )

    assert response.status == 200, response.body
    assert resource.changed(resource.get(record).body) == next(iter(resource.change.values()))


def test_a_post_naming_get_on_the_collection_lists() -> None:
    record = _template("first")

    response = call_api("POST", f"{SYSTEM}/email_template", query="method=GET")

    assert response.status == 200, response.body
    assert response.body["resource"] == [record]


def test_a_batch_delete_through_a_post() -> None:
    first, second = _template("first"), _template("second")

    response = call_api(
        "POST",
        f"{SYSTEM}/email_template",
        {"resource": [{"id": first["id"]}, {"id": second["id"]}]},
        headers={"X-HTTP-Method": "DELETE"},
    )

    assert response.status == 200, response.body
    assert call_api("GET", f"{SYSTEM}/email_template").body == {"resource": []}


@pytest.mark.parametrize("verb", ["POST", "TRACE", "OPTIONS", "HEAD", "CONNECT", "DELETE, GET"])
def test_any_other_verb_named_is_a_400(verb: str) -> None:
    record = _template("first")

    response = call_api(
        "POST", f"{SYSTEM}/email_template/{record['id']}", headers={"X-HTTP-Method": verb}
    )

    assert (response.status, response.reason) == (400, "invalid_method_override")
    assert TEMPLATES.get(record).body == record


def test_two_verbs_that_differ_are_a_400() -> None:
    record = _template("first")

    response = call_api(
        "POST",
        f"{SYSTEM}/email_template/{record['id']}",
        headers={"X-HTTP-Method": "DELETE"},
        query="method=GET",
    )

    assert (response.status, response.reason) == (400, "invalid_method_override")
    assert TEMPLATES.get(record).status == 200


def test_a_non_admin_key_cannot_delete_through_a_post() -> None:
    """The override changes the verb, never the path's rules: `/system` needs an admin key."""
    create_role("app")
    key = create_key("app")
    record = _template("first")

    for path, query in (
        (f"{SYSTEM}/email_template/{record['id']}", ""),
        (f"{SYSTEM}/role", "ids=app"),
    ):
        response = call_api(
            "POST", path, headers={"X-HTTP-Method": "DELETE"}, query=query, api_key=key.token
        )

        assert (response.status, response.reason) == (403, "admin_only")
    assert TEMPLATES.get(record).status == 200
    assert ROLES.get({"name": "app"}).status == 200


def test_a_tunnelled_delete_is_authenticated_as_a_delete() -> None:
    """A POST with no key in its headers or query goes past the gateway's authorizer (its body
    may hold DreamFactory's `api_key`); as the DELETE it becomes, it needs the key where a
    DELETE has it, as the authorizer demands of a DELETE."""
    from tests.support.api import ADMIN_KEY

    record = _template("first")
    path = f"{SYSTEM}/email_template/{record['id']}"

    tunnelled = call_api(
        "POST", path, {"api_key": ADMIN_KEY}, headers={"X-HTTP-Method": "DELETE"}, api_key=None
    )
    sent_as_delete = call_api("DELETE", path, {"api_key": ADMIN_KEY}, api_key=None)

    assert (tunnelled.status, tunnelled.reason) == (401, "unauthorized")
    assert (sent_as_delete.status, sent_as_delete.reason) == (401, "unauthorized")
    assert TEMPLATES.get(record).status == 200


def test_a_bad_verb_without_a_key_is_a_401_first() -> None:
    response = call_api(
        "POST", f"{SYSTEM}/email_template/1", headers={"X-HTTP-Method": "TRACE"}, api_key=None
    )

    assert (response.status, response.reason) == (401, "unauthorized")


def test_only_a_post_is_tunnelled() -> None:
    """VerbOverrides.php line 31: only a POST; a GET naming DELETE is a GET (no link deletes)."""
    record = _template("first")

    response = call_api(
        "GET", f"{SYSTEM}/email_template/{record['id']}", headers={"X-HTTP-Method": "DELETE"}
    )

    assert response.status == 200
    assert TEMPLATES.get(record).status == 200
