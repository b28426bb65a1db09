"""A service's OAuth2 settings: which combinations can get a token, the token URL's rules, and
what is stored (never a secret)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import InvalidRequest
from core.oauth2.config import Grant, OAuth2Input, OAuth2Settings, TokenEndpoint
from core.settings import get_settings

MICROSOFT = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
GOOGLE = "https://oauth2.googleapis.com/token"
SECRET = "client-Secret~value.1"
REFRESH = "1//0gRefreshTokenValue"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _input(**fields: Any) -> OAuth2Input:
    return OAuth2Input.model_validate({"token_url": MICROSOFT, "client_id": "app-1", **fields})


def _refused(**fields: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        _input(**fields)
    return raised.value


# --- grants ---------------------------------------------------------------------------------------


def test_a_client_secret_alone_is_the_client_credentials_grant() -> None:
    given = _input(client_secret=SECRET, scope="https://outlook.office365.com/.default")

    assert given.grant is Grant.CLIENT_CREDENTIALS
    assert given.stored() == OAuth2Settings(
        token_url=MICROSOFT,
        client_id="app-1",
        scope="https://outlook.office365.com/.default",
        grant=Grant.CLIENT_CREDENTIALS,
    )


@pytest.mark.parametrize("client_secret", [SECRET, None])
def test_a_refresh_token_is_the_refresh_token_grant_with_or_without_a_secret(
    client_secret: str | None,
) -> None:
    given = _input(token_url=GOOGLE, refresh_token=REFRESH, client_secret=client_secret)

    assert given.grant is Grant.REFRESH_TOKEN
    assert given.stored().grant is Grant.REFRESH_TOKEN


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        ({}, "oauth2_secret_missing", "config.oauth2.client_secret"),
        ({"grant": "client_credentials"}, "oauth2_secret_missing", "config.oauth2.client_secret"),
        (
            {"grant": "refresh_token", "client_secret": SECRET},
            "oauth2_secret_missing",
            "config.oauth2.refresh_token",
        ),
        (
            {"grant": "client_credentials", "client_secret": SECRET, "refresh_token": REFRESH},
            "oauth2_grant_conflict",
            "config.oauth2.refresh_token",
        ),
        ({"grant": "password", "client_secret": SECRET}, "invalid_oauth2_setting", None),
    ],
)
def test_a_combination_that_cannot_get_a_token_is_a_400_naming_its_field(
    fields: dict[str, Any], reason: str, field: str | None
) -> None:
    error = _refused(**fields)

    assert (error.status, error.reason) == (400, reason)
    assert error.context["field"] == (field or "config.oauth2.grant")


# --- the token URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "stored"),
    [
        (GOOGLE, GOOGLE),
        ("https://OAuth2.GoogleAPIs.com/token", GOOGLE),
        ("https://oauth2.googleapis.com:443/token", GOOGLE),
        ("  https://oauth2.googleapis.com/token ", GOOGLE),
        ("https://login.example.com", "https://login.example.com/"),
    ],
)
def test_a_token_url_is_stored_in_one_spelling(url: str, stored: str) -> None:
    assert _input(token_url=url, client_secret=SECRET).token_url == stored


@pytest.mark.parametrize(
    "url",
    [
        "http://oauth2.googleapis.com/token",
        "ftp://oauth2.googleapis.com/token",
        "oauth2.googleapis.com/token",
        "https://app:secret@oauth2.googleapis.com/token",
        "https://oauth2.googleapis.com/token?client_secret=x",
        "https://oauth2.googleapis.com/token#x",
        "https://oauth2.googleapis.com/to ken",
        "https://oauth2.googleapis.com:99999/token",
        "https://[::1/token",
        "https://exa mple.com/token",
        "https://-bad-.example.com/token",
        "",
        "https://" + "a" * 2048 + ".com/",
    ],
)
def test_a_token_url_that_is_not_plain_https_is_refused(url: str) -> None:
    error = _refused(token_url=url, client_secret=SECRET)

    assert (error.reason, error.context) == (
        "invalid_token_url",
        {"field": "config.oauth2.token_url"},
    )
    assert "secret" not in error.message.replace("client_secret", "").replace("client secret", "")


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("https://127.0.0.1/token", "OUTBOUND_ALLOW_LOOPBACK"),
        ("https://localhost/token", "OUTBOUND_ALLOW_LOOPBACK"),
        ("https://10.0.0.8/token", "OUTBOUND_ALLOW_PRIVATE"),
        ("https://169.254.169.254/token", "never allowed"),
        ("https://login.example.com:8443/token", "port 443"),
    ],
)
def test_a_token_url_is_held_to_the_attachment_urls_guard(url: str, hint: str) -> None:
    error = _refused(token_url=url, client_secret=SECRET)

    assert (error.reason, error.context) == (
        "destination_forbidden",
        {"field": "config.oauth2.token_url"},
    )
    assert hint in error.message


def test_loopback_on_any_port_when_the_operator_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATTACHMENT_FETCH_ALLOW_LOOPBACK", "true")
    get_settings.cache_clear()

    given = _input(token_url="https://127.0.0.1:8443/t", client_secret=SECRET)

    assert TokenEndpoint.of(given.token_url) == TokenEndpoint("127.0.0.1", 8443, "/t")


# --- the other fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_id": "app\n1"}, "client_id"),
        ({"client_id": "x" * 257}, "client_id"),
        ({"scope": 'a "b"'}, "scope"),
        ({"scope": "a  b"}, "scope"),
        ({"client_secret": "s\r\nX-Injected: 1"}, "client_secret"),
        ({"client_secret": "sécret"}, "client_secret"),
        ({"refresh_token": "r\x00"}, "refresh_token"),
    ],
)
def test_values_outside_rfc_6749s_characters_are_refused(
    fields: dict[str, Any], field: str
) -> None:
    error = _refused(**{"client_secret": SECRET, **fields})

    assert (error.reason, error.context) == (
        "invalid_oauth2_setting",
        {"field": f"config.oauth2.{field}"},
    )
    for value in fields.values():
        if field in ("client_secret", "refresh_token"):
            assert str(value) not in error.message  # a secret is never quoted back


def test_an_empty_scope_is_none() -> None:
    assert _input(client_secret=SECRET, scope="").scope is None


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        _input(client_secret=SECRET, tenant="contoso")


# --- secrets never stored or shown ------------------------------------------------------------


def test_the_secrets_are_in_no_repr_and_not_in_what_is_stored() -> None:
    given = _input(token_url=GOOGLE, client_secret=SECRET, refresh_token=REFRESH)

    assert SECRET not in repr(given)
    assert REFRESH not in repr(given)
    stored = given.stored().model_dump_json()
    assert SECRET not in stored
    assert REFRESH not in stored
    assert set(given.stored().model_dump()) == {"token_url", "client_id", "scope", "grant"}


def test_stored_settings_read_back_as_they_were_written() -> None:
    stored = _input(client_secret=SECRET).stored()

    assert OAuth2Settings.model_validate(stored.model_dump(mode="json")) == stored
