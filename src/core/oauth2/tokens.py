"""What a token request carries and what it brings back: plain values, so that what only
holds or passes tokens (the cache, SMTP's XOAUTH2 login) never loads the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.oauth2.config import Grant, OAuth2Settings


@dataclass(frozen=True)
class TokenRequest:
    """Everything one token request needs. `secret_id` and `secret_version` name the secret
    the client secret and refresh token came from: part of what a cached token is kept by."""

    settings: OAuth2Settings
    client_secret: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    secret_id: str | None = None
    secret_version: str | None = None

    def form(self) -> dict[str, str]:
        """The POST body's fields (RFC 6749 §4.4.2 or §6)."""
        grant = self.settings.grant
        fields = {"grant_type": str(grant), "client_id": self.settings.client_id}
        if grant is Grant.REFRESH_TOKEN and self.refresh_token:
            fields["refresh_token"] = self.refresh_token
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        if self.settings.scope:
            fields["scope"] = self.settings.scope
        return fields

    @property
    def secrets(self) -> tuple[str | None, ...]:
        return (self.client_secret, self.refresh_token)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and how long it lives from when it was issued."""

    value: str = field(repr=False)
    lifetime_seconds: float
