"""What a service's secret holds: its SMTP password, its OAuth2 client secret and refresh
token, and its DKIM private key, each optional. The adapter that keeps it in Secrets Manager
is `core.secrets`.

The secret's value is JSON: `{"password": ...}` as it always was, with an `oauth2` object
beside it when the service authenticates with OAuth2 (`{"client_secret": ..., "refresh_token":
...}`), and a `dkim` object when it signs its mail (`{"private_key": "-----BEGIN ..."}`). A
secret made by hand may hold the bare password as text; it is read as a password.
Keys not set are left out, so a password-only service's secret reads as it did before OAuth2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class ServiceCredentials:
    """A service's secret material. Never logged: no field is in the repr."""

    password: str | None = field(default=None, repr=False)
    oauth2_client_secret: str | None = field(default=None, repr=False)
    oauth2_refresh_token: str | None = field(default=None, repr=False)
    dkim_private_key: str | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return not (self.logs_in or self.dkim_private_key)

    @property
    def logs_in(self) -> bool:
        """Whether it holds anything the SMTP server is logged in with (a DKIM key alone is not:
        it never leaves the function)."""
        return bool(self.password or self.oauth2_client_secret or self.oauth2_refresh_token)

    def merged_with(self, changes: ServiceCredentials) -> ServiceCredentials:
        """These credentials with every part `changes` sets replaced (a PATCH keeps the rest)."""
        given = {
            name: value
            for name, value in (
                ("password", changes.password),
                ("oauth2_client_secret", changes.oauth2_client_secret),
                ("oauth2_refresh_token", changes.oauth2_refresh_token),
                ("dkim_private_key", changes.dkim_private_key),
            )
            if value is not None
        }
        return replace(self, **given)

    def to_json(self) -> str:
        value: dict[str, Any] = {}
        if self.password is not None:
            value["password"] = self.password
        oauth2 = {
            name: secret
            for name, secret in (
                ("client_secret", self.oauth2_client_secret),
                ("refresh_token", self.oauth2_refresh_token),
            )
            if secret is not None
        }
        if oauth2:
            value["oauth2"] = oauth2
        if self.dkim_private_key is not None:
            value["dkim"] = {"private_key": self.dkim_private_key}
        return json.dumps(value)

    @classmethod
    def from_secret_value(cls, secret_value: object) -> ServiceCredentials:
        """Read a secret's value as Secrets Manager returns it (text, or bytes); anything
        unreadable is no credentials at all rather than an error that might quote it."""
        if isinstance(secret_value, bytes):
            try:
                secret_value = secret_value.decode()
            except UnicodeDecodeError:
                return cls()
        if not isinstance(secret_value, str):
            return cls()
        try:
            parsed = json.loads(secret_value)
        except ValueError:
            return cls(password=secret_value)  # a bare password, made by hand
        if not isinstance(parsed, dict):
            return cls(password=secret_value)
        oauth2 = parsed.get("oauth2")
        oauth2 = oauth2 if isinstance(oauth2, dict) else {}
        dkim = parsed.get("dkim")
        dkim = dkim if isinstance(dkim, dict) else {}
        return cls(
            password=_text(parsed.get("password")),
            oauth2_client_secret=_text(oauth2.get("client_secret")),
            oauth2_refresh_token=_text(oauth2.get("refresh_token")),
            dkim_private_key=_text(dkim.get("private_key")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
