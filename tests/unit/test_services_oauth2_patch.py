"""What a PATCH does to an OAuth2 service's settings and secrets (core.services.oauth2_patch):
kept when left out, needed again to move them, dropped with the method."""

from __future__ import annotations

from typing import Any

import pytest

from core.credentials import ServiceCredentials
from core.errors import InvalidRequest
from core.oauth2.config import Grant
from core.services.config import SmtpConfig
from core.services.config_input import SmtpConfigInput
from core.services.oauth2_patch import credentials_after, merged_config

TOKEN_URL = "https://oauth2.googleapis.com/token"
CURRENT = SmtpConfig.model_validate(
    {
        "host": "smtp.gmail.com",
        "username": "shop@example.com",
        "auth": "oauth2",
        "oauth2": {"token_url": TOKEN_URL, "client_id": "app", "grant": "refresh_token"},
    }
)
STORED = ServiceCredentials(oauth2_client_secret="cs-1", oauth2_refresh_token="rt-1")


def _after(patch: dict[str, Any]) -> tuple[SmtpConfigInput, ServiceCredentials]:
    merged = SmtpConfigInput.model_validate(merged_config(CURRENT, patch, STORED))
    return merged, credentials_after(STORED, merged, patch)


def test_secrets_left_out_are_kept() -> None:
    merged, credentials = _after({"oauth2": {"scope": "https://mail.google.com/"}})

    assert merged.oauth2 is not None
    assert (merged.oauth2.scope, merged.oauth2.grant) == (
        "https://mail.google.com/",
        Grant.REFRESH_TOKEN,
    )
    assert credentials == STORED


def test_a_new_refresh_token_keeps_the_client_secret() -> None:
    _, credentials = _after({"oauth2": {"refresh_token": "rt-2"}})

    assert credentials == ServiceCredentials(
        oauth2_client_secret="cs-1", oauth2_refresh_token="rt-2"
    )


def test_naming_client_credentials_drops_the_refresh_token() -> None:
    merged, credentials = _after({"oauth2": {"grant": "client_credentials"}})

    assert merged.oauth2 is not None
    assert merged.oauth2.grant is Grant.CLIENT_CREDENTIALS
    assert credentials == ServiceCredentials(oauth2_client_secret="cs-1")


@pytest.mark.parametrize(
    "patch",
    [
        {"oauth2": {"token_url": "https://login.example.com/token"}},
        {"oauth2": {"client_id": "other"}},
    ],
)
def test_moving_the_secrets_needs_them(patch: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as raised:
        merged_config(CURRENT, patch, STORED)

    assert raised.value.reason == "oauth2_secrets_required"


def test_back_to_a_password_drops_the_oauth2_settings_and_secrets() -> None:
    merged, credentials = _after({"auth": "password", "password": "pw"})

    assert merged.oauth2 is None
    assert credentials == ServiceCredentials(password="pw")
