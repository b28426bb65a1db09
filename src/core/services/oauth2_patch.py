"""What a PATCH does to an SMTP service's OAuth2 settings and secrets.

- `config.oauth2` merges key by key, as `config` does: `{"oauth2": {"scope": "..."}}` changes the
  scope alone. Its `grant` is worked out again from the secrets (unless the PATCH names one),
  so giving a refresh token to a client-credentials service makes it a refresh-token one.
- A secret left out is kept: the stored client secret and refresh token stand in for the
  missing ones, so the merged service is validated as a whole, as a create would be. A PATCH
  naming `"grant": "client_credentials"` drops a stored refresh token.
- Whoever moves the secrets must know them (as for the password): changing `token_url` or
  `client_id`, or the SMTP server the tokens go to (host, port, username, weaker encryption,
  `verify_tls` off), needs the secrets again in the same PATCH; else `400
  oauth2_secrets_required`, and nothing changes.
- `"auth": "password"` without `oauth2` drops the OAuth2 settings and, once saved, the secrets.
"""

from __future__ import annotations

from typing import Any

from core.credentials import ServiceCredentials
from core.errors import InvalidRequest
from core.oauth2.config import Grant
from core.services.config import SmtpConfig
from core.services.config_input import SmtpConfigInput
from core.services.smtp_options import AuthMethod

_SECRETS = ("client_secret", "refresh_token")


def merged_config(
    current: SmtpConfig, patch: dict[str, Any], stored: ServiceCredentials
) -> dict[str, Any]:
    """The `config` to validate: the stored one with `patch` laid over it, the stored OAuth2
    secrets standing in for those left out."""
    merged = {**current.model_dump(), **patch}
    if str(merged.get("auth") or AuthMethod.PASSWORD) != AuthMethod.OAUTH2:
        if "oauth2" not in patch:
            merged["oauth2"] = None  # back to a password: the OAuth2 settings go
        return merged
    given = patch.get("oauth2", {})
    if given is None or not isinstance(given, dict) or current.oauth2 is None:
        return merged  # dropped, not an object (a 400 follows), or new: as given
    kept = current.oauth2.model_dump(exclude={"grant"})
    oauth2 = {**kept, **given}
    moved = [
        field
        for field in ("token_url", "client_id")
        if field in given and given[field] != kept[field]
    ]
    if not any(given.get(secret) for secret in _SECRETS):
        require_secrets_for(moved, patch)
        if "client_secret" not in given and stored.oauth2_client_secret:
            oauth2["client_secret"] = stored.oauth2_client_secret
        wants_refresh = oauth2.get("grant") not in (Grant.CLIENT_CREDENTIALS, "client_credentials")
        if "refresh_token" not in given and stored.oauth2_refresh_token and wants_refresh:
            oauth2["refresh_token"] = stored.oauth2_refresh_token
    elif not moved and "client_secret" not in given and stored.oauth2_client_secret:
        # A new refresh token keeps the stored client secret.
        oauth2["client_secret"] = stored.oauth2_client_secret
    merged["oauth2"] = oauth2
    return merged


def gives_secrets(patch: dict[str, Any]) -> bool:
    """Whether `patch` carries an OAuth2 secret."""
    given = patch.get("oauth2")
    return isinstance(given, dict) and any(given.get(secret) for secret in _SECRETS)


def require_secrets_for(changes: list[str], patch: dict[str, Any]) -> None:
    """A 400 unless `patch` carries the secrets, when `changes` would send them (or the tokens
    they get) somewhere else: an admin key alone must not be enough to move them."""
    if changes and not gives_secrets(patch):
        raise InvalidRequest(
            f"Changing {', '.join(changes)} of a service using OAuth2 needs its secrets too:"
            " include 'config.oauth2.client_secret' (and 'config.oauth2.refresh_token', if it"
            " uses one) in the same request.",
            reason="oauth2_secrets_required",
            context={"field": "config.oauth2", "changed": changes},
        )


def credentials_after(
    stored: ServiceCredentials, merged: SmtpConfigInput, patch: dict[str, Any]
) -> ServiceCredentials:
    """What the service's secret holds once the PATCH is saved."""
    password = merged.password if "password" in patch else stored.password
    oauth2 = merged.oauth2 if merged.auth is AuthMethod.OAUTH2 else None
    if oauth2 is None:
        return ServiceCredentials(password=password)
    return ServiceCredentials(
        password=password,
        oauth2_client_secret=oauth2.client_secret,
        oauth2_refresh_token=oauth2.refresh_token if oauth2.grant is Grant.REFRESH_TOKEN else None,
    )
