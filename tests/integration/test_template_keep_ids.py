"""`POST /api/v2/system/email_template?keep_ids=true`: a template created under the id it had in
DreamFactory, so that a client sending `"template_id": 4` reaches the same template here; ids
drawn later never collide with a kept one. Sends by kept id and by DreamFactory's spaced names
reach a real SMTP server."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.api import call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

PATH = "/api/v2/system/email_template"
KEEP = "keep_ids=true"


def _create(body: Any, query: str = "") -> Any:
    created = call_api("POST", PATH, body, query=query)
    assert created.status == 201, created.body
    return created.body


def test_a_kept_id_is_the_templates_and_later_ids_come_after_it() -> None:
    kept = _create({"id": 7, "name": "welcome", "subject": "Hi"}, KEEP)
    later = _create({"name": "later", "subject": "Hi"})

    assert kept["id"] == 7
    assert later["id"] == 8
    assert call_api("GET", f"{PATH}/7").body["name"] == "welcome"


def test_a_batch_keeps_each_id_and_a_lower_one_leaves_the_counter_where_it_is() -> None:
    batch = _create(
        {"resource": [{"id": 12, "name": "a"}, {"id": 3, "name": "b"}, {"name": "c"}]}, KEEP
    )

    assert [template["id"] for template in batch["resource"]] == [12, 3, 13]
    assert _create({"name": "d"})["id"] == 14


def test_an_id_another_template_holds_is_a_409_naming_it() -> None:
    _create({"id": 4, "name": "holder"}, KEEP)

    refused = call_api("POST", PATH, {"id": 4, "name": "newcomer"}, query=KEEP)

    assert (refused.status, refused.reason) == (409, "template_id_taken"), refused.body
    assert refused.body["error"]["message"] == (
        "Email Template id '4' is already taken: the template 'holder' has it."
    )
    assert refused.body["error"]["context"] == {"field": "id", "id": 4, "holder": "holder"}
    assert call_api("GET", f"{PATH}/newcomer").status == 404


def test_the_same_template_again_is_a_name_conflict() -> None:
    # An import run twice: the id is held by the very template, so its name is what is taken.
    _create({"id": 4, "name": "welcome"}, KEEP)

    again = call_api("POST", PATH, {"id": 4, "name": "welcome"}, query=KEEP)

    assert (again.status, again.reason) == (409, "template_exists"), again.body


def test_a_name_taken_frees_the_kept_id_again() -> None:
    _create({"name": "welcome"})

    refused = call_api("POST", PATH, {"id": 9, "name": "welcome"}, query=KEEP)

    assert (refused.status, refused.reason) == (409, "template_exists")
    assert _create({"id": 9, "name": "other"}, KEEP)["id"] == 9


def test_without_keep_ids_an_id_is_ignored_as_dreamfactory_ignores_it() -> None:
    """df-core `src/Models/EmailTemplate.php` lines 33-47: `id` is not in `$fillable`, so a
    create never takes it from the record."""
    assert _create({"id": 40, "name": "welcome"})["id"] == 1
    assert _create({"id": 40, "name": "again"}, "keep_ids=false")["id"] == 2


def test_a_plain_create_steps_over_an_id_an_import_claimed_ahead_of_the_counter() -> None:
    # The counter says 1 is next, but an import claimed 1's pointer while its counter move
    # was still to land (the race the claim order guards against): the next id is drawn.
    boto3.resource("dynamodb").Table("email-api-templates").put_item(
        Item={"key": "id:1", "name": "imported"}
    )

    assert _create({"name": "welcome"})["id"] == 2


@pytest.fixture
def server(smtp_server: Any) -> CaptureServer:
    server: CaptureServer = smtp_server()
    create_plain_service(server.port)
    return server


def test_a_send_by_a_kept_id_and_by_a_spaced_name_reach_the_server(server: CaptureServer) -> None:
    _create(
        {
            "resource": [
                {
                    "id": 2,
                    "name": "User Invite Default",
                    "subject": "Invitation",
                    "body_text": "Hi {first_name}, your code is {confirm_code}.",
                },
                {"id": 5, "name": "Password Reset Default", "subject": "Password Reset"},
            ]
        },
        KEEP,
    )

    by_id = call_api(
        "POST",
        "/api/v2/email",
        {"template_id": 2, "to": "jane@example.com", "first_name": "Jane", "confirm_code": "X1"},
    )
    by_name = call_api(
        "POST",
        "/api/v2/email",
        {"template": "User Invite Default", "template_id": 0, "to": "joe@example.com"},
        query="template=&confirm_code=Y2",
    )

    assert by_id.status == 200, by_id.body
    assert by_name.status == 200, by_name.body
    first, second = server.messages
    assert first.rcpt_tos == ["jane@example.com"]
    assert first.parsed()["Subject"] == "Invitation"
    text = first.parsed().get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().strip() == "Hi Jane, your code is X1."
    assert second.rcpt_tos == ["joe@example.com"]
    assert second.parsed()["Subject"] == "Invitation"
