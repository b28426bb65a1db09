"""The bootstrap admin API key: one generated secret guards the whole API until roles arrive."""

from __future__ import annotations

import hmac

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from core.errors import Unauthorized


class AdminKey:
    """Checks a presented API key against the admin key secret (cached per container)."""

    def __init__(self, secret_id: str, provider: SecretsProvider, *, cache_seconds: int) -> None:
        self._secret_id = secret_id
        self._provider = provider
        self._cache_seconds = cache_seconds

    def verify(self, presented: str | None) -> None:
        """Raise `Unauthorized` unless `presented` is the admin key. The answer never says why."""
        if not presented or not self._secret_id:
            raise Unauthorized("Missing or invalid API key.")
        expected = self._provider.get(self._secret_id, max_age=self._cache_seconds)
        if isinstance(expected, bytes):
            expected = expected.decode()
        if not isinstance(expected, str) or not hmac.compare_digest(
            presented.encode(), expected.strip().encode()
        ):
            raise Unauthorized("Missing or invalid API key.")
