"""Services' numeric ids, as DreamFactory's: shown in every answer, increasing, never handed out
twice, and an address of their own in `/api/v2/system/service/{id_or_name}`.

DreamFactory's `service` table has an auto-increment `id` beside its unique `name` (df-core
`database/migrations/2015_01_27_190908_create_system_tables.php`, lines 64-68), which its
model guards from a create's body (df-core `src/Models/Service.php`, lines 46 and 58-66).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from core.numeric_ids import NumericIds
from core.secrets import CredentialStore
from core.services.repository import ServiceRepository
from core.storage import ItemTable
from core.validation import MAX_RECORD_ID
from tests.support.api import call_api
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Security

pytestmark = pytest.mark.usefixtures("aws")

TABLE = "email-api-services"
SERVICES = "/api/v2/system/service"


def _service(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "config": {"host": "smtp.example.com"}, **fields}


def _create(name: str, **fields: Any) -> dict[str, Any]:
    created = call_api("POST", SERVICES, _service(name, **fields))
    assert created.status == 201, created.body
    body: dict[str, Any] = created.body
    return body


def _keep(*records: dict[str, Any]) -> Any:
    return call_api("POST", SERVICES, {"resource": list(records)}, query="keep_ids=true")


def _stored_before_ids(name: str, created_at: str) -> None:
    """A service as a stack older than ids wrote it: no `id` at all."""
    boto3.resource("dynamodb").Table(TABLE).put_item(
        Item={
            "name": name,
            "label": "",
            "description": "",
            "type": "smtp",
            "is_active": True,
            "config": {"host": "smtp.example.com", "port": 587},
            "created_at": created_at,
            "updated_at": created_at,
        }
    )


def test_each_service_gets_the_next_id_shown_in_every_answer() -> None:
    first, second = _create("email"), _create("billing")

    assert (first["id"], second["id"]) == (1, 2)
    assert list(first)[:2] == ["id", "name"]  # first, as DreamFactory shows it
    listed = call_api("GET", SERVICES).body["resource"]
    assert [(s["id"], s["name"]) for s in listed] == [(2, "billing"), (1, "email")]
    assert call_api("GET", f"{SERVICES}/2").body == second
    assert call_api("GET", f"{SERVICES}/billing").body == second


def test_patch_and_delete_by_id() -> None:
    _create("email")
    created = _create("billing", label="Billing")

    patched = call_api("PATCH", f"{SERVICES}/2", {"label": "Invoices"})
    deleted = call_api("DELETE", f"{SERVICES}/2")

    assert patched.status == 200, patched.body
    assert (patched.body["id"], patched.body["name"], patched.body["label"]) == (
        2,
        "billing",
        "Invoices",
    )
    assert (deleted.status, deleted.body) == (200, {"id": 2, "name": "billing"})
    assert call_api("GET", f"{SERVICES}/2").status == 404
    assert call_api("GET", f"{SERVICES}/billing").status == 404
    # Never handed out again: the next service gets 3, not the 2 a client may still name.
    assert _create("billing")["id"] == 3 != created["id"]


def test_a_patch_may_send_the_id_back_but_not_change_it() -> None:
    created = _create("email")

    # What DreamFactory's admin interface sends back: the record's own fields, as read.
    same = call_api(
        "PATCH", f"{SERVICES}/email", {"id": created["id"], "name": "email", "label": "Mail"}
    )
    changed = call_api("PATCH", f"{SERVICES}/email", {"id": 9})

    assert same.status == 200, same.body
    assert (changed.status, changed.body["error"]["context"]) == (400, {"fields": ["id"]})
    assert call_api("GET", f"{SERVICES}/1").body["label"] == "Mail"


@pytest.mark.parametrize("missing", ["7", "0", "999999999999"])
def test_an_unknown_id_is_a_404(missing: str) -> None:
    _create("email")

    for method in ("GET", "PATCH", "DELETE"):
        body = {"label": "x"} if method == "PATCH" else None
        answer = call_api(method, f"{SERVICES}/{missing}", body)
        assert (answer.status, answer.reason) == (404, "service_not_found"), answer.body
        assert f"'{missing}'" in answer.body["error"]["message"]


def test_a_name_of_digits_is_refused_at_create() -> None:
    answer = call_api("POST", SERVICES, _service("2026"))

    assert (answer.status, answer.reason) == (400, "invalid_service_name"), answer.body
    assert "all digits" in answer.body["error"]["message"]
    assert call_api("GET", SERVICES).body["resource"] == []


def test_bookkeeping_items_are_never_services() -> None:
    _create("email")

    assert [s["name"] for s in call_api("GET", SERVICES).body["resource"]] == ["email"]
    for name in ("%23counter", "%23id:1"):
        assert call_api("GET", f"{SERVICES}/{name}").status == 404


def test_an_id_in_the_body_is_ignored_without_keep_ids() -> None:
    """As DreamFactory's guarded `id` (df-core src/Models/Service.php, line 58): a new service
    gets the next id whatever the body says."""
    answer = call_api("POST", SERVICES, _service("email", id=40))

    assert (answer.status, answer.body["id"]) == (201, 1), answer.body
    assert call_api("GET", f"{SERVICES}/40").status == 404


# --- keep_ids: an import keeps what clients point at ---------------------------------------------


def test_keep_ids_keeps_each_id_and_moves_the_counter_past_them() -> None:
    answer = _keep(_service("email", id=7), _service("billing", id=3), _service("alerts"))

    assert answer.status == 201, answer.body
    # The counter went past 7; a record with no id takes the next one.
    assert [(s["name"], s["id"]) for s in answer.body["resource"]] == [
        ("email", 7),
        ("billing", 3),
        ("alerts", 8),
    ]
    assert call_api("GET", f"{SERVICES}/7").body["name"] == "email"
    assert _create("later")["id"] == 9


def test_after_the_largest_id_is_kept_a_new_service_is_a_409_not_a_500() -> None:
    """Found by the contract fuzzer: an import kept DreamFactory's largest id (MySQL's unsigned
    int), the counter went past it, and the next create failed its own id's bounds."""
    kept = _keep(_service("email", id=MAX_RECORD_ID))

    after = call_api("POST", SERVICES, _service("later"))

    assert kept.status == 201, kept.body
    assert (after.status, after.reason) == (409, "no_ids_left"), after.body
    assert call_api("GET", f"{SERVICES}/later").status == 404


def test_keep_ids_refuses_an_id_another_service_has() -> None:
    _create("email")  # id 1

    answer = _keep(_service("imported", id=1))

    assert (answer.status, answer.reason) == (409, "service_id_taken"), answer.body
    assert "'email'" in answer.body["error"]["message"]
    context = answer.body["error"]["context"]
    assert {k: context[k] for k in ("field", "id", "service")} == {
        "field": "id",
        "id": 1,
        "service": "email",
    }
    assert call_api("GET", f"{SERVICES}/imported").status == 404
    assert call_api("GET", f"{SERVICES}/1").body["name"] == "email"


def test_keep_ids_of_a_service_that_exists_is_a_name_conflict_that_keeps_its_id() -> None:
    _create("email")  # id 1

    same = _keep(_service("email", id=1))
    other = _keep(_service("email", id=5))

    assert (same.status, same.reason) == (409, "service_exists"), same.body
    assert (other.status, other.reason) == (409, "service_exists"), other.body
    assert call_api("GET", f"{SERVICES}/1").body["name"] == "email"
    assert call_api("GET", f"{SERVICES}/5").status == 404  # the losing claim was let go
    assert _keep(_service("billing", id=5)).status == 201


@pytest.mark.parametrize("given", [0, -1, 1.5, "7", True, 4_294_967_296])
def test_keep_ids_takes_only_a_dreamfactory_id(given: Any) -> None:
    answer = _keep(_service("email", id=given))

    assert (answer.status, answer.reason) == (400, "invalid_request"), answer.body
    assert answer.body["error"]["context"]["errors"][0]["field"] == "resource.0.id"


# --- services stored before ids ---------------------------------------------------------------


def test_services_stored_before_ids_are_numbered_when_first_listed_oldest_first() -> None:
    _stored_before_ids("newer", "2026-03-01T00:00:00+00:00")
    _stored_before_ids("older", "2025-01-01T00:00:00+00:00")

    listed = call_api("GET", SERVICES).body["resource"]

    assert [(s["name"], s["id"]) for s in listed] == [("newer", 2), ("older", 1)]
    assert call_api("GET", SERVICES).body["resource"] == listed  # and keep them
    assert call_api("GET", f"{SERVICES}/2").body["name"] == "newer"
    assert _create("email")["id"] == 3


def test_a_service_stored_before_ids_gets_one_when_first_read_and_keeps_it() -> None:
    _stored_before_ids("email", "2025-01-01T00:00:00+00:00")

    first = call_api("GET", f"{SERVICES}/email")
    again = call_api("GET", f"{SERVICES}/1")
    patched = call_api("PATCH", f"{SERVICES}/1", {"label": "Mail"})

    assert (first.status, first.body["id"]) == (200, 1), first.body
    assert again.body == first.body
    assert (patched.body["id"], patched.body["label"]) == (1, "Mail")
    stored = boto3.resource("dynamodb").Table(TABLE).get_item(Key={"name": "email"})["Item"]
    assert stored["id"] == 1


def test_a_send_reads_a_service_stored_before_ids_without_numbering_it() -> None:
    _stored_before_ids("email", "2025-01-01T00:00:00+00:00")
    repository = ServiceRepository(ItemTable(TABLE, "name"), CredentialStore("email-api"))

    assert repository.by_name("email").id is None
    stored = boto3.resource("dynamodb").Table(TABLE).get_item(Key={"name": "email"})["Item"]
    assert "id" not in stored


def test_two_first_readers_agree_on_one_id() -> None:
    """Both read the record without an id; the second's conditional write fails, it gives its
    id back and answers the first one's."""
    _stored_before_ids("email", "2025-01-01T00:00:00+00:00")
    table = ItemTable(TABLE, "name")
    seen = table.get("email")
    assert seen is not None
    ids = NumericIds(table)

    first, second = ids.assign(dict(seen)), ids.assign(dict(seen))

    assert first is not None
    assert second is not None
    assert (first["id"], second["id"]) == (1, 1)
    assert ids.holder(1) == "email"
    assert ids.holder(2) is None  # the loser's id is let go (a gap, never handed out again)
    assert call_api("GET", f"{SERVICES}/email").body["id"] == 1


# --- the MAIL_* service -------------------------------------------------------------------------


def test_the_mail_settings_service_is_id_0_until_a_stored_one_takes_its_name(
    configure: Callable[..., None],
) -> None:
    configure(MAIL_SERVICE_NAME="email", MAIL_HOST="smtp.example.com", MAIL_PORT="587")

    listed = call_api("GET", SERVICES).body["resource"]
    by_id = call_api("GET", f"{SERVICES}/0")
    patched = call_api("PATCH", f"{SERVICES}/0", {"label": "x"})
    stored = _create("email")

    assert [(s["id"], s["name"]) for s in listed] == [(0, "email")]
    assert by_id.body == listed[0]
    assert (patched.status, patched.reason) == (404, "service_not_found")
    assert "MAIL_* settings" in patched.body["error"]["message"]
    assert stored["id"] == 1  # the counter never hands out 0
    assert call_api("GET", f"{SERVICES}/0").status == 404
    assert call_api("GET", f"{SERVICES}/email").body == stored


def test_a_counter_id_a_kept_one_took_meanwhile_is_skipped() -> None:
    """The counter handed out 5 just before an import kept 5 (and moved the counter to 5):
    the create that drew 5 loses the claim to it and takes the next id."""
    table = ItemTable(TABLE, "name")
    ids = NumericIds(table)
    table.put({"name": "#counter", "last_id": 4})

    assert ids.keep(5, "imported") is None
    table.put({"name": "#counter", "last_id": 4})  # as the other create read it, before

    assert ids.new("email") == 6
    assert (ids.holder(5), ids.holder(6)) == ("imported", "email")


def test_a_service_named_with_digits_before_ids_still_sends_and_is_patched_by_its_id(
    smtp_server: Callable[..., CaptureServer],
) -> None:
    server = smtp_server(Security.PLAIN)
    boto3.resource("dynamodb").Table(TABLE).put_item(
        Item={
            "name": "2024",
            "type": "smtp",
            "config": {"host": LOOPBACK, "port": server.port, "encryption": "none"},
            "created_at": "2024-01-01T00:00:00+00:00",
        }
    )

    sent = call_api(
        "POST",
        "/api/v2/2024",
        {"to": "john@example.com", "from_email": "a@example.com", "body_text": "Hi"},
    )
    [listed] = call_api("GET", SERVICES).body["resource"]
    patched = call_api("PATCH", f"{SERVICES}/{listed['id']}", {"label": "Old"})

    assert (sent.status, len(server.messages)) == (200, 1), sent.body
    assert (listed["id"], listed["name"]) == (1, "2024")
    assert (patched.status, patched.body["name"], patched.body["label"]) == (200, "2024", "Old")
    assert call_api("GET", f"{SERVICES}/2024").status == 404  # digits in the path are an id
