"""The system service API: what GET shows, where the password lives, PATCH and DELETE."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from core.secrets import CredentialStore
from core.services.model import ServiceInput
from core.services.repository import ServiceRepository
from core.storage import ItemTable
from tests.support.api import call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Security

pytestmark = pytest.mark.usefixtures("aws")

StartServer = Callable[..., CaptureServer]
USER = "mailer"
PASSWORD = "pw-Zq9!x7-never-shown"
SECRET_ID = "email-api/services/email"


def _config(server: CaptureServer, **overrides: Any) -> dict[str, Any]:
    return {
        "host": LOOPBACK,
        "port": server.port,
        "encryption": "ssl",
        "username": USER,
        "password": PASSWORD,
        "from_email": "noreply@example.com",
        **overrides,
    }


def _send() -> tuple[int, Any]:
    response = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})
    return response.status, response.body


def _secret_exists(secret_id: str) -> bool:
    client = boto3.client("secretsmanager")
    try:
        client.describe_secret(SecretId=secret_id)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def test_password_is_never_shown_nor_logged(
    smtp_server: StartServer, function_logs: Callable[[], str]
) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))

    answers = [
        call_api("POST", "/api/v2/system/service", {"name": "email", "config": _config(server)}),
        call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"}),
        call_api("GET", "/api/v2/system/service"),
        call_api("GET", "/api/v2/system/service/email"),
        call_api("PATCH", "/api/v2/system/service/email", {"config": {"password": PASSWORD}}),
        call_api("PATCH", "/api/v2/system/service/email", {"label": "Transactional"}),
        call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi again"}),
        call_api("DELETE", "/api/v2/system/service/email"),
    ]

    assert [answer.status for answer in answers] == [201, 200, 200, 200, 200, 200, 200, 200]
    assert len(server.messages) == 2
    for answer in answers:
        shown = json.dumps(answer.body)
        assert PASSWORD not in shown
        assert "password" not in shown
        assert "secret" not in shown  # not even where it is kept
    logs = function_logs()
    lines = [json.loads(line) for line in logs.splitlines()]
    assert "message delivered" in {line["message"] for line in lines}
    audited = {line["audit"]["action"] for line in lines if line["message"] == "audit"}
    assert audited == {"service.create", "service.update", "service.delete"}
    assert PASSWORD not in logs


def test_password_is_kept_in_secrets_manager(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    create_service(_config(server))

    value = boto3.client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"]
    assert json.loads(value) == {"password": PASSWORD}
    table = boto3.resource("dynamodb").Table("email-api-services")
    assert PASSWORD not in json.dumps(table.get_item(Key={"name": "email"})["Item"], default=str)


def test_delete_removes_the_secret(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    create_service(_config(server))
    assert _secret_exists(SECRET_ID)

    response = call_api("DELETE", "/api/v2/system/service/email")

    assert (response.status, response.body) == (200, {"name": "email"})
    assert not _secret_exists(SECRET_ID)
    assert call_api("GET", "/api/v2/system/service/email").status == 404
    assert _send()[0] == 404


def test_service_can_be_recreated_after_delete(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, "second-password"))
    create_service(_config(server))
    assert _send()[0] == 502  # warms this container's credential cache with the old password
    call_api("DELETE", "/api/v2/system/service/email")

    create_service(_config(server, password="second-password"))

    assert _send()[0] == 200


def test_password_change_takes_effect_on_the_next_send(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, "new-password"))
    create_service(_config(server, password="old-password"))
    status, body = _send()  # the old password is now cached in this warm container
    assert (status, body["error"]["reason"]) == (502, "smtp_auth_failed")

    patched = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"password": "new-password"}}
    )
    assert patched.status == 200, patched.body

    status, body = _send()
    assert (status, body["count"]) == (200, 1), body
    assert server.only_message.auth_login == USER


def test_patch_changes_only_the_given_keys(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    before = create_service(
        _config(server, from_name="Example App"), label="Mail", description="Outgoing mail"
    )

    response = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"from_name": "Billing"}}
    )

    assert response.status == 200, response.body
    after = response.body
    assert after["config"] == {**before["config"], "from_name": "Billing"}
    assert (after["label"], after["description"]) == ("Mail", "Outgoing mail")
    assert call_api("GET", "/api/v2/system/service/email").body == after
    # The password was not part of the patch, so it is still there and still works.
    status, body = _send()
    assert (status, body["count"]) == (200, 1), body
    assert server.only_message.parsed()["From"] == "Billing <noreply@example.com>"


def test_patch_removing_the_password_deletes_the_secret(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT)
    create_service(_config(server))

    response = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"username": None, "password": None}}
    )

    assert response.status == 200, response.body
    assert not _secret_exists(SECRET_ID)
    status, body = _send()
    assert (status, body["count"]) == (200, 1), body
    assert server.only_message.auth_login is None


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"name": "renamed"}, "invalid_request"),
        ({"config": {"encryption": "starttls"}}, "invalid_encryption"),
        ({"config": {"port": "not a port"}}, "invalid_request"),
        ({"config": {"unknown_outcome": "resend"}}, "invalid_request"),
        ({"config": "tls"}, "invalid_request"),
        ({"label": 5}, "invalid_request"),
        ({"description": ["not", "text"]}, "invalid_request"),
    ],
)
def test_invalid_patch_changes_nothing(
    smtp_server: StartServer, patch: dict[str, Any], reason: str
) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    before = create_service(_config(server))

    response = call_api("PATCH", "/api/v2/system/service/email", patch)

    assert (response.status, response.reason) == (400, reason), response.body
    assert call_api("GET", "/api/v2/system/service/email").body == before


def test_unknown_outcome_is_hold_unless_set(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    created = create_service(_config(server))
    assert created["config"]["unknown_outcome"] == "hold"  # at most once, as before

    response = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"unknown_outcome": "retry"}}
    )

    assert response.status == 200, response.body
    assert response.body["config"] == {**created["config"], "unknown_outcome": "retry"}
    assert call_api("GET", "/api/v2/system/service/email").body == response.body


def test_create_twice_is_a_conflict(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    create_service(_config(server))

    response = call_api(
        "POST",
        "/api/v2/system/service",
        {"name": "email", "config": _config(server, password="another")},
    )

    assert (response.status, response.reason) == (409, "service_exists"), response.body
    assert _send()[0] == 200  # the first definition and its password are untouched


def test_batch_create_and_list(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))

    response = call_api(
        "POST",
        "/api/v2/system/service",
        {
            "resource": [
                {"name": "b-mail", "config": _config(server)},
                {"name": "a-mail", "config": _config(server)},
            ]
        },
    )

    assert response.status == 201, response.body
    assert [s["name"] for s in response.body["resource"]] == ["b-mail", "a-mail"]
    listed = call_api("GET", "/api/v2/system/service").body["resource"]
    assert [s["name"] for s in listed] == ["a-mail", "b-mail"]


class _SecretsManagerDown(CredentialStore):
    def put_password(self, service_name: str, password: str) -> tuple[str, str]:
        raise RuntimeError("Secrets Manager is unavailable")


def test_a_service_whose_password_cannot_be_stored_is_not_created() -> None:
    repository = ServiceRepository(
        ItemTable("email-api-services", "name"), _SecretsManagerDown("email-api")
    )
    new = ServiceInput.model_validate(
        {"name": "email", "config": {"host": LOOPBACK, "password": PASSWORD}}
    )

    with pytest.raises(RuntimeError, match="unavailable"):
        repository.create(new)

    assert call_api("GET", "/api/v2/system/service/email").status == 404
