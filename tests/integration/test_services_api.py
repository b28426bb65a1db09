"""The system service API: what GET shows, where the password lives, PATCH and DELETE."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import boto3
import pytest

from core.credentials import ServiceCredentials
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

    assert (response.status, response.body) == (200, {"id": 1, "name": "email"})
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
        ({"type": "smtp_email"}, "invalid_request"),
        ({"type": "mailgun_email"}, "unsupported_service_type"),
        ({"is_active": "maybe"}, "invalid_request"),
        ({"enabled": False}, "invalid_request"),
        ({"config": {"host": None}}, "invalid_request"),
        ({"config": {"parameters": [{"name": "x\ny"}]}}, "invalid_parameter"),
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
    def put_credentials(
        self, service_name: str, credentials: ServiceCredentials
    ) -> tuple[str, str]:
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


# --- services as DreamFactory exports them ------------------------------------------------------

# A service as DreamFactory's GET /api/v2/system/service shows it (less its bookkeeping).
DREAMFACTORY_EXPORT: dict[str, Any] = {
    "name": "email",
    "label": "Email",
    "description": "Transactional mail",
    "is_active": True,
    "type": "smtp_email",
    "config": {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "tls",
        "username": None,
        "password": None,
        "parameters": [{"name": "company", "value": "Acme", "active": True, "outbound": True}],
    },
}


def test_a_dreamfactory_export_is_created_as_it_is_and_read_back_in_its_shape() -> None:
    created = call_api("POST", "/api/v2/system/service", DREAMFACTORY_EXPORT)

    assert created.status == 201, created.body
    shown = call_api("GET", "/api/v2/system/service/email").body
    assert shown == created.body
    assert {key: shown[key] for key in ("name", "label", "description", "is_active", "type")} == {
        "name": "email",
        "label": "Email",
        "description": "Transactional mail",
        "is_active": True,
        "type": "smtp_email",
    }
    assert shown["config"] | {"parameters": None} == {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "tls",
        "verify_tls": True,
        "username": None,
        "from_name": None,
        "from_email": None,
        "reply_to_name": None,
        "reply_to_email": None,
        "max_send_rate": None,
        "daily_quota": None,
        "max_connections": 4,
        "max_recipients": None,
        "unknown_outcome": "hold",
        "retry_window_minutes": None,
        "suppression_scope": "account",
        "parameters": None,
        "escape_html_values": True,
    }
    # DreamFactory's own keys of an entry (`outbound` here; `id`, `service_id`) are dropped.
    assert shown["config"]["parameters"] == [{"name": "company", "value": "Acme", "active": True}]
    listed = call_api("GET", "/api/v2/system/service").body["resource"]
    assert listed == [shown]


def test_smtp_email_is_smtp(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT, credentials=(USER, PASSWORD))
    created = create_service(_config(server), type="smtp_email")

    status, body = _send()

    assert created["type"] == "smtp_email"
    assert (status, body["count"]) == (200, 1), body
    assert server.only_message.auth_login == USER


def test_the_type_is_smtp_when_not_given(smtp_server: StartServer) -> None:
    assert create_service(_config(smtp_server(Security.IMPLICIT)))["type"] == "smtp"


@pytest.mark.parametrize("kind", ["mailgun_email", "local_email", "mysql", "SMTP", 5])
def test_other_types_are_refused_naming_them(kind: Any) -> None:
    response = call_api("POST", "/api/v2/system/service", {**DREAMFACTORY_EXPORT, "type": kind})

    assert (response.status, response.reason) == (400, "unsupported_service_type"), response.body
    message = response.body["error"]["message"]
    assert f"'{kind}'" in message
    assert "'smtp_email'" in message
    assert "'smtp'" in message
    assert call_api("GET", "/api/v2/system/service/email").status == 404


def test_is_active_false_is_stored_and_can_be_patched() -> None:
    created = call_api(
        "POST", "/api/v2/system/service", {**DREAMFACTORY_EXPORT, "is_active": False}
    )
    assert created.status == 201, created.body
    assert call_api("GET", "/api/v2/system/service/email").body["is_active"] is False

    patched = call_api("PATCH", "/api/v2/system/service/email", {"is_active": True})

    assert patched.status == 200, patched.body
    assert patched.body == {**created.body, "is_active": True, "updated_at": ANY}
    assert call_api("GET", "/api/v2/system/service/email").body["is_active"] is True


def test_parameters_are_stored_as_text_and_patched_as_a_whole() -> None:
    parameters = [
        {"name": "company", "value": "Acme"},
        {"name": "year", "value": 2026},
        {"name": "rate", "value": 1.5},
        {"name": "beta", "value": True},
        {"name": "footer", "value": None},
        {"name": "old", "value": "x", "active": False, "id": 7, "service_id": 3},
    ]
    body = {**DREAMFACTORY_EXPORT, "config": {"host": "smtp.example.com", "parameters": parameters}}
    created = call_api("POST", "/api/v2/system/service", body)

    assert created.status == 201, created.body
    assert created.body["config"]["parameters"] == [
        {"name": "company", "value": "Acme", "active": True},
        {"name": "year", "value": "2026", "active": True},
        {"name": "rate", "value": "1.5", "active": True},
        {"name": "beta", "value": "true", "active": True},
        {"name": "footer", "value": None, "active": True},
        {"name": "old", "value": "x", "active": False},
    ]
    assert call_api("GET", "/api/v2/system/service/email").body == created.body

    patched = call_api(
        "PATCH",
        "/api/v2/system/service/email",
        {"config": {"parameters": [{"name": "company", "value": "Acme Ltd"}]}},
    )

    assert patched.status == 200, patched.body
    assert patched.body["config"]["parameters"] == [
        {"name": "company", "value": "Acme Ltd", "active": True}
    ]


def test_null_is_unset_on_create() -> None:
    body = {
        "name": "email",
        "label": None,
        "description": None,
        "is_active": None,
        "type": None,
        "config": {
            "host": "smtp.example.com",
            **dict.fromkeys(
                [
                    "port",
                    "encryption",
                    "verify_tls",
                    "username",
                    "password",
                    "from_name",
                    "from_email",
                    "reply_to_name",
                    "reply_to_email",
                    "max_send_rate",
                    "daily_quota",
                    "max_recipients",
                    "unknown_outcome",
                    "parameters",
                    "escape_html_values",
                ]
            ),
        },
    }

    created = call_api("POST", "/api/v2/system/service", body)

    assert created.status == 201, created.body
    defaults = call_api(
        "POST",
        "/api/v2/system/service",
        {"name": "defaults", "config": {"host": "smtp.example.com"}},
    ).body
    assert created.body == {
        **defaults,
        "id": 1,
        "name": "email",
        "created_at": ANY,
        "updated_at": ANY,
    }
    assert (created.body["label"], created.body["is_active"], created.body["type"]) == (
        "",
        True,
        "smtp",
    )
    assert created.body["config"]["port"] == 587


def test_null_is_unset_on_patch(smtp_server: StartServer) -> None:
    server = smtp_server(Security.IMPLICIT)
    created = create_service(
        _config(server, username=None, password=None, from_name="Billing", max_recipients=5),
        label="Mail",
    )

    response = call_api(
        "PATCH",
        "/api/v2/system/service/email",
        {
            "label": None,
            "is_active": None,
            "name": None,
            "type": None,
            "config": {"from_name": None, "max_recipients": None, "verify_tls": None},
        },
    )

    assert response.status == 200, response.body
    assert response.body == {
        **created,
        "label": "",
        "config": {**created["config"], "from_name": None, "max_recipients": None},
        "updated_at": ANY,
    }


def test_host_stays_required() -> None:
    config = {**DREAMFACTORY_EXPORT["config"], "host": None}
    response = call_api("POST", "/api/v2/system/service", {**DREAMFACTORY_EXPORT, "config": config})

    assert response.status == 400
    assert response.body["error"]["context"]["errors"][0]["field"] == "config.host"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**DREAMFACTORY_EXPORT, "mutable": True}, "mutable"),
        (
            {**DREAMFACTORY_EXPORT, "config": {**DREAMFACTORY_EXPORT["config"], "service_id": 5}},
            "config.service_id",
        ),
    ],
)
def test_unknown_keys_are_refused_naming_them(body: dict[str, Any], field: str) -> None:
    response = call_api("POST", "/api/v2/system/service", body)

    assert (response.status, response.reason) == (400, "invalid_request"), response.body
    assert f"'{field}'" in response.body["error"]["message"]
    assert call_api("GET", "/api/v2/system/service/email").status == 404


@pytest.mark.parametrize(
    ("parameters", "field", "named"),
    [
        ([{"name": "a\r\nb", "value": "x"}], "config.parameters.0.name", "parameter 0"),
        ([{"name": "", "value": "x"}], "config.parameters.0.name", "parameter 0"),
        ([{"value": "x"}], "config.parameters.0.name", "parameter 0"),
        (
            [{"name": "ok"}, {"name": "logo", "value": {"src": "x"}}],
            "config.parameters.1.value",
            "'logo'",
        ),
        ([{"name": "list", "value": [1]}], "config.parameters.0.value", "'list'"),
        (["company=Acme"], "config.parameters.0", "parameter 0"),
        ({"company": "Acme"}, "config.parameters", "'config.parameters'"),
        ([{"name": f"p{i}", "value": "x"} for i in range(101)], "config.parameters", "100"),
        ([{"name": "big", "value": "x" * 70_000}], "config.parameters", "bytes"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it(parameters: Any, field: str, named: str) -> None:
    config = {**DREAMFACTORY_EXPORT["config"], "parameters": parameters}
    response = call_api("POST", "/api/v2/system/service", {**DREAMFACTORY_EXPORT, "config": config})

    assert (response.status, response.reason) == (400, "invalid_parameter"), response.body
    assert response.body["error"]["context"]["field"] == field
    assert named in response.body["error"]["message"]


def test_a_parameter_active_flag_must_be_a_boolean() -> None:
    config = {**DREAMFACTORY_EXPORT["config"], "parameters": [{"name": "a", "active": "maybe"}]}
    response = call_api("POST", "/api/v2/system/service", {**DREAMFACTORY_EXPORT, "config": config})

    assert response.status == 400
    assert response.body["error"]["context"]["errors"][0]["field"] == ("config.parameters.0.active")


def test_a_patch_may_repeat_the_name_and_type_but_not_change_them() -> None:
    created = call_api("POST", "/api/v2/system/service", DREAMFACTORY_EXPORT).body

    same = call_api(
        "PATCH",
        "/api/v2/system/service/email",
        {"name": "email", "type": "smtp_email", "label": "Mail"},
    )
    changed = call_api("PATCH", "/api/v2/system/service/email", {"type": "smtp"})
    unknown = call_api("PATCH", "/api/v2/system/service/email", {"id": 1, "mutable": False})

    assert same.status == 200, same.body
    assert (changed.status, changed.body["error"]["context"]) == (400, {"fields": ["type"]})
    assert unknown.status == 400
    assert "'mutable'" in unknown.body["error"]["message"]
    assert call_api("GET", "/api/v2/system/service/email").body == {
        **created,
        "label": "Mail",
        "updated_at": ANY,
    }
