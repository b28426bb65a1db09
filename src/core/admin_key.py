"""The bootstrap admin key's secret: the value the stack made (CloudFormation's generated
secret, or the local stack's). It is the key until the key's first change through the admin
API (core.access.bootstrap_key); from then on each rotation only rewrites it, so operators read
the key in force where they always have."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters import SecretsProvider

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


@dataclass(frozen=True)
class SecretValue:
    """The secret's value, and when it was stored (the key's creation, for the listing)."""

    value: str
    stored_at: str


class AdminKey:
    """Compares a presented API key with the admin key secret (cached per container); reads and
    rewrites the secret for the admin API (never cached)."""

    def __init__(self, secret_id: str, client: SecretsManagerClient, *, cache_seconds: int) -> None:
        self._secret_id = secret_id
        self._client = client
        self._provider = SecretsProvider(boto3_client=client)
        self._cache_seconds = cache_seconds

    @property
    def configured(self) -> bool:
        """Whether this stack has an admin key secret at all (ADMIN_KEY_SECRET_ID)."""
        return bool(self._secret_id)

    def matches(self, presented: str) -> bool:
        if not self._secret_id:
            return False
        expected = self._provider.get(self._secret_id, max_age=self._cache_seconds)
        if isinstance(expected, bytes):
            expected = expected.decode()
        return isinstance(expected, str) and hmac.compare_digest(
            presented.encode(), expected.strip().encode()
        )

    def current(self) -> SecretValue | None:
        """The value as stored now, or None when there is no secret."""
        if not self._secret_id:
            return None
        try:
            answer = self._client.get_secret_value(SecretId=self._secret_id)
        except self._client.exceptions.ResourceNotFoundException:
            return None
        stored_at = answer["CreatedDate"].astimezone(UTC).isoformat(timespec="seconds")
        return SecretValue(answer.get("SecretString", "").strip(), stored_at)

    def replace(self, value: str) -> None:
        """Store `value` as the secret's current version (the old one becomes AWSPREVIOUS)."""
        self._client.put_secret_value(SecretId=self._secret_id, SecretString=value)
