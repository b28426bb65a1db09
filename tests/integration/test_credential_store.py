"""The credential store in Secrets Manager (moto): a service's password and OAuth2 secrets in
one secret, read back from the cache until the service's secret version changes."""

from __future__ import annotations

import json

import boto3

from core.credentials import ServiceCredentials
from core.secrets import CredentialStore

FULL = ServiceCredentials(password="pw-1", oauth2_client_secret="cs-1", oauth2_refresh_token="rt-1")


def test_the_oauth2_secrets_are_stored_beside_the_password(aws: None) -> None:
    store = CredentialStore("email-api")

    secret_id, version = store.put_credentials("email", FULL)

    stored = boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)
    assert json.loads(stored["SecretString"]) == {
        "password": "pw-1",
        "oauth2": {"client_secret": "cs-1", "refresh_token": "rt-1"},
    }
    assert store.credentials(secret_id, version) == FULL
    assert store.password(secret_id, version) == "pw-1"


def test_a_new_version_is_read_at_once_and_the_cache_serves_the_same_one(aws: None) -> None:
    store = CredentialStore("email-api")
    secret_id, first = store.put_credentials("email", FULL)
    assert store.credentials(secret_id, first) == FULL

    rotated = FULL.merged_with(ServiceCredentials(oauth2_refresh_token="rt-2"))
    _, second = store.put_credentials("email", rotated)

    assert store.credentials(secret_id, second).oauth2_refresh_token == "rt-2"
    assert store.credentials(secret_id, second).password == "pw-1"


def test_a_password_written_alone_reads_as_before(aws: None) -> None:
    store = CredentialStore("email-api")

    secret_id, version = store.put_password("email", "pw-only")

    assert store.credentials(secret_id, version) == ServiceCredentials(password="pw-only")
