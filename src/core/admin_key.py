"""The bootstrap admin API key: one generated secret that is always an administrator."""

from __future__ import annotations

import hmac

from aws_lambda_powertools.utilities.parameters import SecretsProvider


class AdminKey:
    """Compares a presented API key with the admin key secret (cached per container)."""

    def __init__(self, secret_id: str, provider: SecretsProvider, *, cache_seconds: int) -> None:
        self._secret_id = secret_id
        self._provider = provider
        self._cache_seconds = cache_seconds

    def matches(self, presented: str) -> bool:
        if not self._secret_id:
            return False
        expected = self._provider.get(self._secret_id, max_age=self._cache_seconds)
        if isinstance(expected, bytes):
            expected = expected.decode()
        return isinstance(expected, str) and hmac.compare_digest(
            presented.encode(), expected.strip().encode()
        )
