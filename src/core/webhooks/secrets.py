"""Webhook signing secrets in Secrets Manager, one per subscription (`<prefix>/webhooks/<id>`):
the table keeps only the secret's id. Read through Powertools' cache: a secret never changes
while its subscription lives."""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING

import boto3
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from core.aws_session import CREATING_CLIENTS

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class WebhookSecrets:
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

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            with CREATING_CLIENTS:
                self._client = boto3.client("secretsmanager")
        return self._client

    def create(self, webhook_id: str, secret: str) -> str:
        """Keep `secret` for the subscription `webhook_id`; returns the secret's id."""
        secret_id = f"{self._prefix}/webhooks/{webhook_id}"
        self.client.create_secret(
            Name=secret_id,
            SecretString=secret,
            Description=f"Signing secret of webhook '{webhook_id}'",
        )
        return secret_id

    def get(self, secret_id: str) -> str:
        if self._provider is None:
            self._provider = SecretsProvider(boto3_client=self.client)
        value = self._provider.get(secret_id, max_age=self._cache_seconds)
        return str(value)

    def delete(self, secret_id: str) -> None:
        with suppress(self.client.exceptions.ResourceNotFoundException):
            self.client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
