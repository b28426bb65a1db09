"""A service's secret as JSON: the password and the OAuth2 secrets beside it, as stored before
OAuth2 and after, and never in a repr."""

from __future__ import annotations

import json

import pytest

from core.credentials import ServiceCredentials

FULL = ServiceCredentials(password="pw-1", oauth2_client_secret="cs-1", oauth2_refresh_token="rt-1")


def test_a_password_alone_is_stored_as_before_oauth2() -> None:
    assert json.loads(ServiceCredentials(password="pw-1").to_json()) == {"password": "pw-1"}


def test_the_oauth2_secrets_sit_beside_the_password() -> None:
    assert json.loads(FULL.to_json()) == {
        "password": "pw-1",
        "oauth2": {"client_secret": "cs-1", "refresh_token": "rt-1"},
    }


@pytest.mark.parametrize("credentials", [FULL, ServiceCredentials(oauth2_client_secret="cs")])
def test_what_is_written_reads_back(credentials: ServiceCredentials) -> None:
    assert ServiceCredentials.from_secret_value(credentials.to_json()) == credentials
    assert ServiceCredentials.from_secret_value(credentials.to_json().encode()) == credentials


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bare-password", ServiceCredentials(password="bare-password")),
        ("12345", ServiceCredentials(password="12345")),
        ('{"password": 5}', ServiceCredentials()),
        ('{"oauth2": "x"}', ServiceCredentials()),
        (b"\xff\xfe", ServiceCredentials()),
        (None, ServiceCredentials()),
    ],
)
def test_a_secret_made_by_hand_reads_as_well_as_it_can(
    value: object, expected: ServiceCredentials
) -> None:
    assert ServiceCredentials.from_secret_value(value) == expected


def test_a_patch_replaces_only_the_parts_it_gives() -> None:
    changed = FULL.merged_with(ServiceCredentials(oauth2_refresh_token="rt-2"))

    assert changed == ServiceCredentials(
        password="pw-1", oauth2_client_secret="cs-1", oauth2_refresh_token="rt-2"
    )


def test_no_secret_in_the_repr() -> None:
    for secret in ("pw-1", "cs-1", "rt-1"):
        assert secret not in repr(FULL)


def test_empty() -> None:
    assert ServiceCredentials().empty
    assert not ServiceCredentials(oauth2_refresh_token="rt").empty
