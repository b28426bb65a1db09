"""How an SMTP service reaches and logs in to its server: the port, the encryption and the
login method, each taken in DreamFactory's spellings too (a port as text, an empty
encryption)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from core.errors import InvalidRequest
from core.validation import NUMBER_ONLY


def _dreamfactory_port(value: Any) -> Any:
    # DreamFactory exports a service's port as text ("587"); any other text is no port.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value


Port = Annotated[
    int,
    Field(ge=1, le=65535),
    NUMBER_ONLY,
    BeforeValidator(
        _dreamfactory_port,
        json_schema_input_type=Annotated[int, Field(ge=1, le=65535)]
        | Annotated[str, Field(pattern=r"^[0-9]{1,5}$")],
    ),
]


class Encryption(StrEnum):
    # DreamFactory's "leave empty": STARTTLS whenever the server offers it, plain otherwise.
    OPPORTUNISTIC = ""
    TLS = "tls"  # STARTTLS, required; usually port 587
    SSL = "ssl"  # implicit TLS, usually port 465
    NONE = "none"  # plain text, by explicit choice


class AuthMethod(StrEnum):
    """How an SMTP service logs in, when it has a `username`."""

    # AUTH PLAIN, CRAM-MD5 or LOGIN with the stored password. (A method's name, not one.)
    PASSWORD = "password"  # noqa: S105
    OAUTH2 = "oauth2"  # AUTH XOAUTH2 with a token from `config.oauth2`'s token endpoint


def parse_auth(value: Any) -> AuthMethod:
    """A service's `auth` (unset: the password), or a 400 naming the choices."""
    if value is None or value == "":
        return AuthMethod.PASSWORD
    try:
        return AuthMethod(value)
    except ValueError:
        raise InvalidRequest(
            f"Invalid auth '{value}': use 'password' (the default) or 'oauth2'.",
            reason="invalid_auth",
            context={"field": "config.auth"},
        ) from None


def parse_encryption(value: Any) -> Encryption:
    """A service's `encryption` in DreamFactory's spellings, or a 400 naming the choices."""
    # Missing, null and empty all mean DreamFactory's "leave empty": STARTTLS when offered.
    if value is None:
        return Encryption.OPPORTUNISTIC
    try:
        return Encryption(str(value).lower())
    except ValueError:
        raise InvalidRequest(
            f"Invalid encryption '{value}': use 'tls' (STARTTLS, required), 'ssl' (implicit TLS),"
            " 'none' (plain text) or leave it empty (STARTTLS whenever the server offers it).",
            reason="invalid_encryption",
            context={"field": "config.encryption"},
        ) from None
