"""From a presented API key to a principal: the key's id and its role, or 401."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.access.bootstrap_key import BOOTSTRAP_KEY_ID, BootstrapKey
from core.access.model import BOOTSTRAP_ROLE, ApiKey, Role, bootstrap_role
from core.access.repository import ApiKeyRepository, RoleRepository
from core.access.rotation import secret_accepted
from core.access.tokens import split_token
from core.clock import parse_iso
from core.errors import NotFound, Unauthorized

# Where DreamFactory clients put the key: either header, or the `api_key` query parameter.
API_KEY_HEADERS = ("x-dreamfactory-api-key", "x-api-key")
API_KEY_PARAMETER = "api_key"
# Direct invocations (IAM, no API key) act under this id, with the `InvokeRole` role.
INVOKE_KEY_ID = "lambda-invoke"

# Recording every use would be a write per request; once a minute says enough.
_TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key (or `bootstrap`) and the role it acts with."""

    key_id: str
    role: Role

    @classmethod
    def bootstrap(cls) -> Principal:
        return cls(BOOTSTRAP_KEY_ID, bootstrap_role())


def presented_api_key(
    headers: Mapping[str, str] | None,
    query: Mapping[str, str] | None,
    body: object = None,
) -> str | None:
    """The key from `X-DreamFactory-API-Key`, `X-API-Key` or `?api_key=` (headers in any case),
    else from the JSON body's `api_key`, which DreamFactory reads too (df-core `AuthCheck`)."""
    by_name = {name.lower(): value for name, value in (headers or {}).items()}
    for header in API_KEY_HEADERS:
        if by_name.get(header):
            return by_name[header]
    in_query = (query or {}).get(API_KEY_PARAMETER)
    if in_query:
        return in_query
    in_body = body.get(API_KEY_PARAMETER) if isinstance(body, dict) else None
    return in_body if isinstance(in_body, str) and in_body else None


def without_api_key(body: Any) -> Any:
    """The body with its `api_key` taken out: a credential, never a placeholder value, a
    stored field or text in a mail."""
    if isinstance(body, dict) and API_KEY_PARAMETER in body:
        return {name: value for name, value in body.items() if name != API_KEY_PARAMETER}
    return body


class Authenticator:
    """Checks keys; remembers recent answers for `cache_seconds` (revocation waits that long)."""

    def __init__(
        self,
        bootstrap: BootstrapKey,
        keys: ApiKeyRepository,
        roles: RoleRepository,
        *,
        cache_seconds: float = 0,
        invoke_principal: Callable[[], Principal] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._keys = keys
        self._roles = roles
        self._cache_seconds = cache_seconds
        # Who direct invocations act as; without it, a job they queued has no sender now.
        self._invoke_principal = invoke_principal
        # sha256(presented key) -> (principal, monotonic expiry); no key is kept in clear.
        self._recent: dict[str, tuple[Principal, float]] = {}

    def authenticate(self, presented: str | None) -> Principal:
        """The caller's principal, or `Unauthorized` that never says what was wrong."""
        if not presented:
            raise Unauthorized("Missing or invalid API key.")
        fingerprint = hashlib.sha256(presented.encode()).hexdigest()
        cached = self._recent.get(fingerprint)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        principal = self._check(presented)
        if self._cache_seconds > 0:
            self._recent[fingerprint] = (principal, time.monotonic() + self._cache_seconds)
        return principal

    def principal_for(self, key_id: str, role_name: str) -> Principal:
        """The principal an authorizer already vouched for, with its role as stored now."""
        if role_name == BOOTSTRAP_ROLE and key_id == BOOTSTRAP_KEY_ID:
            return Principal.bootstrap()
        return Principal(key_id, self._role(role_name))

    def principal_of(self, key_id: str) -> Principal:
        """Who `key_id` acts as right now, read afresh (no cache): for a message queued
        earlier. `Unauthorized` if the key was revoked or disabled, or its role deleted."""
        if key_id == BOOTSTRAP_KEY_ID:
            bootstrap = self._bootstrap.stored()
            if bootstrap is not None and not bootstrap.enabled:
                raise Unauthorized("Missing or invalid API key.")
            return Principal.bootstrap()
        if key_id == INVOKE_KEY_ID and self._invoke_principal is not None:
            try:
                return self._invoke_principal()
            except NotFound:  # the invoke role was deleted
                raise Unauthorized("Missing or invalid API key.") from None
        key = self._keys.find(key_id)
        if key is None or not key.enabled:
            raise Unauthorized("Missing or invalid API key.")
        return Principal(key.id, self._role(key.role))

    def _check(self, presented: str) -> Principal:
        now = datetime.now(UTC)
        parts = split_token(presented)
        key = self._keys.find(parts[0]) if parts else None
        if parts is not None and key is not None:
            if not key.enabled or not secret_accepted(parts[1], key, now):
                raise Unauthorized("Missing or invalid API key.")
            principal = Principal(key.id, self._role(key.role))
            self._touch(key, now)
            return principal
        # Anything else can only be the bootstrap key, whose secret has no id in it.
        bootstrap = self._bootstrap.stored()
        if bootstrap is None:
            if self._bootstrap.secret_matches(presented):
                return Principal.bootstrap()
        elif bootstrap.enabled and secret_accepted(presented, bootstrap, now):
            self._touch(bootstrap, now)
            return Principal.bootstrap()
        raise Unauthorized("Missing or invalid API key.")

    def _touch(self, key: ApiKey, now: datetime) -> None:
        if key.last_used_at is None or now - parse_iso(key.last_used_at) > _TOUCH_INTERVAL:
            self._keys.touch(key)

    def _role(self, name: str) -> Role:
        try:
            return self._roles.by_name(name)
        except NotFound:
            # A key whose role was deleted can do nothing; it is as good as revoked.
            raise Unauthorized("Missing or invalid API key.") from None
