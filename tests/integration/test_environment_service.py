"""DreamFactory's MAIL_* settings: a service from the environment, sending with no admin step."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support.api import call_api
from tests.support.smtp_servers import CaptureServer, Security

pytestmark = pytest.mark.usefixtures("aws")

USER, PASSWORD = "ses-smtp-user", "ses-smtp-password"


@pytest.mark.parametrize(
    "secret_value",
    [json.dumps({"password": PASSWORD}), PASSWORD],
    ids=["json-secret", "bare-secret"],
)
def test_mail_settings_service_sends(
    smtp_server: Callable[..., CaptureServer], configure: Callable[..., None], secret_value: str
) -> None:
    server = smtp_server(Security.STARTTLS, credentials=(USER, PASSWORD), require_starttls=True)
    boto3.client("secretsmanager").create_secret(Name="ops/smtp", SecretString=secret_value)
    configure(
        MAIL_SERVICE_NAME="email",
        MAIL_HOST="localhost",
        MAIL_PORT=str(server.port),
        MAIL_ENCRYPTION="tls",
        MAIL_USERNAME=USER,
        MAIL_PASSWORD_SECRET_ID="ops/smtp",
        MAIL_FROM_ADDRESS="noreply@example.com",
        MAIL_FROM_NAME="Example App",
    )

    response = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert (response.status, response.body["count"]) == (200, 1), response.body
    received = server.only_message
    assert (received.tls, received.auth_login, received.mail_from) == (
        True,
        USER,
        "noreply@example.com",
    )
    assert received.parsed()["From"] == "Example App <noreply@example.com>"


def test_mail_settings_without_encryption_use_starttls_when_offered(
    smtp_server: Callable[..., CaptureServer], configure: Callable[..., None]
) -> None:
    server = smtp_server(Security.STARTTLS, credentials=(USER, PASSWORD), require_starttls=True)
    boto3.client("secretsmanager").create_secret(Name="ops/smtp", SecretString=PASSWORD)
    configure(
        MAIL_SERVICE_NAME="email",
        MAIL_HOST="localhost",
        MAIL_PORT=str(server.port),
        MAIL_USERNAME=USER,
        MAIL_PASSWORD_SECRET_ID="ops/smtp",
        MAIL_FROM_ADDRESS="noreply@example.com",
    )

    listed = call_api("GET", "/api/v2/system/service/email")
    response = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert listed.body["config"]["encryption"] == ""
    assert (response.status, response.body["count"]) == (200, 1), response.body
    assert (server.only_message.tls, server.only_message.auth_login) == (True, USER)


@pytest.mark.parametrize(("setting", "value"), [("MAIL_HOST", "127.0.0.1"), ("MAIL_PORT", "6379")])
def test_mail_settings_pointing_where_no_service_may_are_refused(
    configure: Callable[..., None], setting: str, value: str
) -> None:
    settings = {"MAIL_HOST": "smtp.example.com", "MAIL_PORT": "587", setting: value}
    configure(
        MAIL_SERVICE_NAME="email",
        SMTP_ALLOW_LOOPBACK="false",
        SMTP_ALLOWED_PORTS="25,465,587,2525",
        **settings,
    )

    response = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert (response.status, response.reason) == (400, "destination_forbidden"), response.body
    assert response.body["error"]["context"] == {"field": setting}


def test_mail_settings_service_is_listed_and_read_only(
    configure: Callable[..., None],
) -> None:
    configure(
        MAIL_SERVICE_NAME="email",
        MAIL_HOST="smtp.example.com",
        MAIL_PORT="465",
        MAIL_ENCRYPTION="ssl",
        MAIL_PASSWORD_SECRET_ID="ops/smtp",
    )

    listed = call_api("GET", "/api/v2/system/service")
    patched = call_api("PATCH", "/api/v2/system/service/email", {"label": "x"})
    deleted = call_api("DELETE", "/api/v2/system/service/email")

    assert listed.status == 200
    (service,) = listed.body["resource"]
    assert service["config"]["host"] == "smtp.example.com"
    assert service["config"]["encryption"] == "ssl"
    assert "ops/smtp" not in json.dumps(listed.body)
    for answer in (patched, deleted):
        assert (answer.status, answer.reason) == (404, "service_not_found"), answer.body
        assert "MAIL_*" in answer.body["error"]["message"]


def test_stored_service_of_the_same_name_wins(
    smtp_server: Callable[..., CaptureServer], configure: Callable[..., Any]
) -> None:
    stored = smtp_server()
    configure(
        MAIL_SERVICE_NAME="email",
        MAIL_HOST="localhost",
        MAIL_PORT="1",
        MAIL_ENCRYPTION="none",
        MAIL_FROM_ADDRESS="env@example.com",
    )
    created = call_api(
        "POST",
        "/api/v2/system/service",
        {
            "name": "email",
            "config": {
                "host": "127.0.0.1",
                "port": stored.port,
                "encryption": "none",
                "from_email": "db@example.com",
            },
        },
    )
    assert created.status == 201, created.body

    response = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert response.status == 200, response.body
    assert stored.only_message.mail_from == "db@example.com"
