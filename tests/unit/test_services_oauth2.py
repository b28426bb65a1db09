"""An SMTP service's `auth` and `config.oauth2`: what a create takes and refuses, what is stored
and shown (never a secret), and which secrets go to Secrets Manager."""

from __future__ import annotations

from typing import Any

import pytest

from core.credentials import ServiceCredentials
from core.errors import InvalidRequest
from core.oauth2.config import Grant
from core.services.config_input import credentials_of
from core.services.model import Service, ServiceInput
from core.services.smtp_options import AuthMethod

GOOGLE = {
    "token_url": "https://oauth2.googleapis.com/token",
    "client_id": "app.apps.googleusercontent.com",
    "client_secret": "cs-value",
    "refresh_token": "rt-value",
    "scope": "https://mail.google.com/",
}
CONFIG = {"host": "smtp.gmail.com", "encryption": "tls", "username": "shop@example.com"}


def _input(**config: Any) -> ServiceInput:
    return ServiceInput.model_validate({"name": "gmail", "config": {**CONFIG, **config}})


def _refused(**config: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        _input(**config)
    return raised.value


def test_oauth2_is_stored_without_its_secrets_and_they_go_to_secrets_manager() -> None:
    given = _input(auth="oauth2", oauth2=GOOGLE)

    stored = given.config.stored()
    assert stored.model_dump()["oauth2"] == {
        "token_url": GOOGLE["token_url"],
        "client_id": GOOGLE["client_id"],
        "scope": GOOGLE["scope"],
        "grant": Grant.REFRESH_TOKEN,
    }
    assert credentials_of(given.config) == ServiceCredentials(
        oauth2_client_secret="cs-value", oauth2_refresh_token="rt-value"
    )


def test_get_shows_the_settings_and_never_a_secret() -> None:
    given = _input(auth="oauth2", oauth2=GOOGLE)
    service = Service(name="gmail", config=given.config.stored())

    shown = str(service.public())

    assert "cs-value" not in shown
    assert "rt-value" not in shown
    assert service.public()["config"]["auth"] == "oauth2"


def test_a_password_service_is_shown_in_dreamfactorys_shape() -> None:
    service = Service(name="email", config=_input(password="pw").config.stored())

    assert service.smtp.auth is AuthMethod.PASSWORD
    assert {"auth", "oauth2"}.isdisjoint(service.public()["config"])


@pytest.mark.parametrize(
    ("config", "reason", "field"),
    [
        ({"auth": "oauth2"}, "oauth2_settings_missing", "config.oauth2"),
        (
            {"auth": "oauth2", "oauth2": GOOGLE, "username": None},
            "username_required",
            "config.username",
        ),
        ({"oauth2": GOOGLE}, "oauth2_not_used", "config.oauth2"),
        ({"auth": "kerberos"}, "invalid_auth", "config.auth"),
        (
            {"auth": "oauth2", "oauth2": {**GOOGLE, "refresh_token": None, "client_secret": None}},
            "oauth2_secret_missing",
            "config.oauth2.client_secret",
        ),
        (
            {"auth": "oauth2", "oauth2": {**GOOGLE, "token_url": "http://oauth2.googleapis.com/t"}},
            "invalid_token_url",
            "config.oauth2.token_url",
        ),
    ],
)
def test_bad_oauth2_settings_are_a_400_naming_the_field(
    config: dict[str, Any], reason: str, field: str
) -> None:
    error = _refused(**config)

    assert (error.status, error.reason, error.context["field"]) == (400, reason, field)
