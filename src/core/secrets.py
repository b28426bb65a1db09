"""Service credentials in Secrets Manager: one secret per service, cached per Lambda container.

The secret's value is JSON (`core.credentials`): `{"password": "..."}`, with the OAuth2 client
secret and refresh token beside it (`"oauth2": {...}`), so DKIM material can join it later
without a migration. Nothing here logs or returns secret material except `credentials()` and
`password()`, which the transports alone call.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from core.aws_session import CREATING_CLIENTS
from core.credentials import ServiceCredentials

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class CredentialStore:
    """Writes, reads (cached) and deletes the per-service credential secrets."""

    def __init__(
        self,
        prefix: str,
        *,
        cache_seconds: int = 300,
        client: SecretsManagerClient | None = None,
    ) -> None:
        self._prefix = prefix.strip("/")
        self._cache_seconds = cache_seconds
        self._client = client
        self._provider: SecretsProvider | None = None
        # secret id -> version we last fetched; a newer version in DynamoDB forces a fetch.
        self._fetched_versions: dict[str, str | None] = {}

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            with CREATING_CLIENTS:
                self._client = boto3.client("secretsmanager")
        return self._client

    def secret_id_for(self, service_name: str) -> str:
        return f"{self._prefix}/services/{service_name}"

    def put_password(self, service_name: str, password: str) -> tuple[str, str]:
        """Store (create or replace) a service's password alone; returns (secret id, version)."""
        return self.put_credentials(service_name, ServiceCredentials(password=password))

    def put_credentials(
        self, service_name: str, credentials: ServiceCredentials
    ) -> tuple[str, str]:
        """Store (create or replace) a service's whole secret: the password and the OAuth2
        parts it holds, exactly these (merge with `ServiceCredentials.merged_with` first to
        keep parts). Returns (secret id, version id)."""
        secret_id = self.secret_id_for(service_name)
        value = credentials.to_json()
        try:
            answer: Any = self.client.put_secret_value(SecretId=secret_id, SecretString=value)
        except self.client.exceptions.ResourceNotFoundException:
            answer = self.client.create_secret(
                Name=secret_id,
                SecretString=value,
                Description=f"Credentials of email service '{service_name}'",
            )
        return secret_id, str(answer["VersionId"])

    def delete(self, secret_id: str) -> None:
        """Delete at once: a recovery window would block re-creating a service of the same name."""
        with suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)

    def password(self, secret_id: str, version: str | None) -> str | None:
        """The password, from this container's cache unless the service's secret changed."""
        return self.credentials(secret_id, version).password

    def credentials(self, secret_id: str, version: str | None) -> ServiceCredentials:
        """Everything the secret holds, from this container's cache unless the service's
        secret changed (its `version` differs from the one last fetched)."""
        if self._provider is None:
            self._provider = SecretsProvider(boto3_client=self.client)
        stale = self._fetched_versions.get(secret_id, "") != version
        value = self._provider.get(secret_id, max_age=self._cache_seconds, force_fetch=stale)
        self._fetched_versions[secret_id] = version
        return ServiceCredentials.from_secret_value(value)
