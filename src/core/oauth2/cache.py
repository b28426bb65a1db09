"""The process's access tokens, one per service identity, kept until shortly before they expire.

A token request costs a round trip to the provider (and counts against its limits), so one
token serves every send until it nears its end. The rules:

- a token is kept by what it was issued for: the token URL, the client id, the scope, the grant
  and the secret (its id and version). A changed setting or a rotated secret finds no token and
  fetches one; tokens of an identity no longer in use expire and are dropped;
- a token counts as fresh until `margin_seconds` (60 s) before the end of its lifetime, or half
  its lifetime if that is shorter: it must outlive the AUTH that carries it. Its age is
  measured on the monotonic clock and the wall clock both, the larger counting: a Lambda
  frozen between invocations comes back with either one having jumped (as `transport.pool`);
- many senders, one request: a per-identity lock lets the first caller fetch while the others
  wait for its token (no longer than their deadlines); other identities are not held up. The
  cache's own lock guards only its bookkeeping, never a request;
- `invalidate(request, token)` drops a token the server called stale (a 334 error challenge or a
  535 to XOAUTH2), so the next `token()` fetches a new one; a token that already replaced it is
  kept, so two senders that met the same stale token cause one request, not two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.oauth2.config import Grant
from core.oauth2.errors import OAuth2TokenTimeout
from core.oauth2.tokens import AccessToken, TokenRequest
from core.transport.base import Deadline

DEFAULT_MARGIN_SECONDS = 60.0

# Seconds since some fixed point; only readings of the same clock are compared.
Reading = Callable[[], float]


class TokenSource(Protocol):
    def fetch(self, request: TokenRequest, deadline: Deadline) -> AccessToken:
        """A new access token for `request` by `deadline`, or `OAuth2TokenFailed`."""
        ...


@dataclass(frozen=True)
class TokenKey:
    """What a token was issued for."""

    token_url: str
    client_id: str
    scope: str | None
    grant: Grant
    secret_id: str | None
    secret_version: str | None

    @classmethod
    def of(cls, request: TokenRequest) -> TokenKey:
        settings = request.settings
        return cls(
            token_url=settings.token_url,
            client_id=settings.client_id,
            scope=settings.scope,
            grant=settings.grant,
            secret_id=request.secret_id,
            secret_version=request.secret_version,
        )


@dataclass(frozen=True)
class Lease:
    """A token handed out, and whether it was fetched for this very request."""

    value: str = field(repr=False)
    fetched: bool


class ClientOnFirstUse:
    """A `TokenSource` that builds the real one when the first token is asked for: a process
    whose services log in with passwords never loads the HTTP client."""

    def __init__(self, build: Callable[[], TokenSource]) -> None:
        self._build = build
        self._source: TokenSource | None = None
        self._lock = threading.Lock()

    def fetch(self, request: TokenRequest, deadline: Deadline) -> AccessToken:
        with self._lock:
            if self._source is None:
                self._source = self._build()
            source = self._source
        return source.fetch(request, deadline)


@dataclass(frozen=True)
class _Kept:
    token: AccessToken
    # What each clock read when the token was asked for (a little before it was issued).
    issued: tuple[float, ...]
    fresh_for: float  # seconds of age it is still handed out at


class TokenCache:
    """Access tokens by service identity: `token()` gives a fresh one, fetching when needed."""

    def __init__(
        self,
        source: TokenSource,
        *,
        margin_seconds: float = DEFAULT_MARGIN_SECONDS,
        clocks: Sequence[Reading] = (time.monotonic, time.time),
    ) -> None:
        self._source = source
        self._margin_seconds = margin_seconds
        self._clocks = tuple(clocks)
        self._lock = threading.Lock()  # bookkeeping only
        self._kept: dict[TokenKey, _Kept] = {}
        self._fetching: dict[TokenKey, threading.Lock] = {}

    def token(self, request: TokenRequest, deadline: Deadline) -> str:
        """A fresh access token for `request`: the kept one, or one fetched by `deadline`."""
        return self.lease(request, deadline).value

    def lease(self, request: TokenRequest, deadline: Deadline) -> Lease:
        """`token`, saying whether it was fetched just now for this caller: a kept token the
        server refuses may be stale, a token fetched a moment ago is not."""
        key = TokenKey.of(request)
        with self._lock:
            kept = self._fresh(key)
            if kept is not None:
                return Lease(kept, fetched=False)
            fetching = self._fetching.setdefault(key, threading.Lock())
        # One caller fetches; the others wait here and find its token.
        if not fetching.acquire(timeout=max(0.0, deadline.remaining())):
            raise OAuth2TokenTimeout(
                "No OAuth2 token in time: another send was still fetching this service's token."
            )
        try:
            with self._lock:
                kept = self._fresh(key)
            if kept is not None:
                return Lease(kept, fetched=False)
            asked_at = self._read()
            token = self._source.fetch(request, deadline)
            fresh_for = token.lifetime_seconds - min(
                self._margin_seconds, token.lifetime_seconds / 2
            )
            with self._lock:
                self._forget_expired()
                self._kept[key] = _Kept(token, asked_at, fresh_for)
            return Lease(token.value, fetched=True)
        finally:
            fetching.release()

    def invalidate(self, request: TokenRequest, token: str) -> None:
        """Forget `token` (the server called it stale), unless a newer one replaced it."""
        key = TokenKey.of(request)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.token.value == token:
                del self._kept[key]

    def clear(self) -> None:
        """Forget every token (tests; a process that resets its collaborators)."""
        with self._lock:
            self._kept.clear()

    # --- under the lock ----------------------------------------------------------------------

    def _fresh(self, key: TokenKey) -> str | None:
        kept = self._kept.get(key)
        if kept is None:
            return None
        if self._age(kept) >= kept.fresh_for:
            del self._kept[key]
            return None
        return kept.token.value

    def _forget_expired(self) -> None:
        for key in [key for key, kept in self._kept.items() if self._age(kept) >= kept.fresh_for]:
            del self._kept[key]

    def _age(self, kept: _Kept) -> float:
        return max(now - then for now, then in zip(self._read(), kept.issued, strict=True))

    def _read(self) -> tuple[float, ...]:
        return tuple(clock() for clock in self._clocks)
