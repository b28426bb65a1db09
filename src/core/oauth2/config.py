"""A service's OAuth2 settings (`config.oauth2`): where its token endpoint is, who it is, what
it asks for, and which grant it uses.

What is stored and shown (`OAuth2Settings`): `token_url`, `client_id`, `scope` and `grant`.
What an admin may send besides (`OAuth2Input`): `client_secret` and `refresh_token`, which go to
Secrets Manager and are never shown again.

The grant follows from the secrets given, unless `grant` names it:

| grant                          | refresh_token | client_secret                     |
| ------------------------------ | ------------- | --------------------------------- |
| `refresh_token` (Gmail, ...)   | required      | optional (a public client has none) |
| `client_credentials` (M365 app) | not allowed   | required                          |

`token_url` is https, always (the client secret crosses it), with a host that is a DNS name or
an IP literal, no user name or password, no query and no fragment: a token endpoint needs
none, and a secret pasted into one would be stored in DynamoDB and shown by GET. Where it points
is judged by the attachment URLs' guard (OUTBOUND_ALLOW_*: port 443, no loopback, no
private ranges unless allowed) when saved, and again after DNS when a token is fetched.

Every refusal is a 400 (`InvalidRequest`) naming its field under `config.oauth2`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.errors import InvalidRequest
from core.network.destination import (
    DestinationForbidden,
    DestinationPolicy,
    Kind,
    check_destination,
    ip_literal,
    is_host_name,
    normalize_host,
)
from core.settings import Settings, get_settings

FIELD = "config.oauth2"

MAX_TOKEN_URL_LENGTH = 2048
MAX_CLIENT_ID_LENGTH = 256
MAX_SCOPE_LENGTH = 1024
MAX_CLIENT_SECRET_LENGTH = 1024
# Microsoft's refresh tokens run to a few kilobytes; this leaves them room and no more.
MAX_REFRESH_TOKEN_LENGTH = 16 * 1024

# RFC 6749, appendix A: a client id and the secrets are VSCHARs (printable ASCII and space);
# a scope is NQCHAR tokens (printable ASCII but `"` and `\`) separated by single spaces.
_VSCHARS = re.compile(r"[\x20-\x7e]+")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


class Grant(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"  # RFC 6749 §4.4: the app acts as itself
    # RFC 6749 §6: on behalf of the user who consented. (A grant's name, not a password.)
    REFRESH_TOKEN = "refresh_token"  # noqa: S105


@dataclass(frozen=True)
class TokenEndpoint:
    """A checked token URL, taken apart for connecting: the host (an ASCII name, or an IP
    literal without brackets), the port, and the request target (the path)."""

    host: str
    port: int
    target: str

    @classmethod
    def of(cls, token_url: str) -> TokenEndpoint:
        """The parts of a URL `parse_token_url` accepted."""
        parts = urlsplit(token_url)
        host = parts.hostname or ""
        return cls(host=host, port=parts.port or 443, target=parts.path or "/")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        authority = host if self.port == 443 else f"{host}:{self.port}"
        return f"https://{authority}{self.target}"


def _invalid(field: str, message: str, reason: str) -> InvalidRequest:
    return InvalidRequest(message, reason=reason, context={"field": f"{FIELD}.{field}"})


def _shown(url: str) -> str:
    """A URL as a refusal may show it: before any query, fragment or credentials, and short."""
    base = url.partition("?")[0].partition("#")[0]
    scheme, separator, rest = base.partition("://")
    if separator and "@" in rest.partition("/")[0]:
        base = f"{scheme}://{rest.partition('@')[2]}"
    return base if len(base) <= 200 else base[:200] + "..."


def parse_token_url(value: Any) -> str:
    """The token URL in its one spelling (host lower-case, IP literal canonical, port 443 left
    out), or a 400 (`invalid_token_url`)."""

    def refuse(why: str) -> InvalidRequest:
        return _invalid("token_url", f"Invalid '{FIELD}.token_url': {why}.", "invalid_token_url")

    if not isinstance(value, str) or not value.strip():
        raise refuse("give the https URL of the provider's token endpoint")
    url = value.strip()
    shown = _shown(url)
    if len(url) > MAX_TOKEN_URL_LENGTH:
        raise refuse(f"it is longer than {MAX_TOKEN_URL_LENGTH} characters")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise refuse(f"{shown!r} holds whitespace or a control character")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unbalanced bracket, a port out of range
        raise refuse(f"{shown!r} cannot be read as a URL") from None
    if parts.scheme.lower() != "https":
        raise refuse(f"{shown!r} is not https; the client secret must not cross a plain line")
    if "@" in parts.netloc:
        raise refuse(
            f"{shown!r} holds a user name or password; give those as client_id and client_secret"
        )
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise refuse(f"{shown!r} has a query or a fragment, which a token endpoint needs none of")
    host = parts.hostname or ""
    if ip_literal(host) is not None:
        host = normalize_host(host)
    elif "[" not in parts.netloc and is_host_name(host):
        host = host.removesuffix(".").encode("idna").decode("ascii")
    else:
        raise refuse(f"{shown!r} has no valid host")
    if port == 0:
        raise refuse(f"{shown!r} has an invalid port")
    return TokenEndpoint(host=host, port=port or 443, target=parts.path or "/").url


def _printable(field: str, limit: int) -> BeforeValidator:
    """Printable ASCII of at most `limit` characters (RFC 6749's VSCHARs), else a 400."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str) or not value or len(value) > limit:
            raise _invalid(
                field,
                f"Invalid '{FIELD}.{field}': give text of 1 to {limit} characters.",
                "invalid_oauth2_setting",
            )
        if not _VSCHARS.fullmatch(value):
            # Never quoted: it may be a secret.
            raise _invalid(
                field,
                f"Invalid '{FIELD}.{field}': only printable ASCII characters are allowed"
                " (RFC 6749); check for a stray line break or a non-ASCII character.",
                "invalid_oauth2_setting",
            )
        return value

    return BeforeValidator(check, json_schema_input_type=str | None)


def _parse_scope(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_SCOPE_LENGTH
        or not _SCOPE.fullmatch(value.strip())
    ):
        raise _invalid(
            "scope",
            f"Invalid '{FIELD}.scope': give scopes separated by single spaces, printable ASCII"
            " without quotes or backslashes (e.g. 'https://outlook.office365.com/.default').",
            "invalid_oauth2_setting",
        )
    return value.strip()


def _parse_grant(value: Any) -> Grant | None:
    if value is None or value == "":
        return None
    try:
        return Grant(value)
    except ValueError:
        raise _invalid(
            "grant",
            f"Invalid '{FIELD}.grant' {value!r}: use 'client_credentials' or 'refresh_token'"
            " (or leave it out: a refresh token given means 'refresh_token').",
            "invalid_oauth2_setting",
        ) from None


def resolve_grant(requested: Grant | None, *, client_secret: bool, refresh_token: bool) -> Grant:
    """The grant a service uses, given which secrets it has (given now or kept from before);
    a 400 for a combination that cannot get a token."""
    grant = requested or (Grant.REFRESH_TOKEN if refresh_token else Grant.CLIENT_CREDENTIALS)
    if grant is Grant.REFRESH_TOKEN and not refresh_token:
        raise _invalid(
            "refresh_token",
            f"The refresh_token grant needs '{FIELD}.refresh_token': the token the user's"
            " consent produced.",
            "oauth2_secret_missing",
        )
    if grant is Grant.CLIENT_CREDENTIALS and refresh_token:
        raise _invalid(
            "refresh_token",
            f"'{FIELD}.refresh_token' is given, but the grant is client_credentials, which"
            " uses none: leave the refresh token out, or leave 'grant' out.",
            "oauth2_grant_conflict",
        )
    if grant is Grant.CLIENT_CREDENTIALS and not client_secret:
        raise _invalid(
            "client_secret",
            f"The client_credentials grant needs '{FIELD}.client_secret' (or give a"
            f" '{FIELD}.refresh_token' for the refresh_token grant).",
            "oauth2_secret_missing",
        )
    return grant


def check_token_destination(token_url: str) -> None:
    """A 400 (`destination_forbidden`) if the operator's guard for outbound web requests
    refuses where `token_url` points, as far as is known before DNS."""
    endpoint = TokenEndpoint.of(token_url)
    try:
        check_destination(endpoint.host, endpoint.port, destination_policy(get_settings()))
    except DestinationForbidden as error:
        raise _invalid(
            "token_url",
            f"'{FIELD}.token_url' {refusal(error.kind, endpoint.port)}; no credentials are"
            " sent there.",
            "destination_forbidden",
        ) from None


def destination_policy(settings: Settings) -> DestinationPolicy:
    """Where token endpoints may be: where attachment URLs may point (port 443 only, loopback
    and private ranges when the operator allows them), judged by the same guard."""
    return DestinationPolicy.for_outbound_http(settings)


def refusal(kind: Kind | None, port: int) -> str:
    """Why the guard refuses a token endpoint, in a token URL's terms (the guard's own words
    are an SMTP host's)."""
    if kind is None:
        return f"uses port {port}; token endpoints must use port 443"
    if kind is Kind.LOOPBACK:
        return f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_LOOPBACK=true"
    if kind is Kind.PRIVATE:
        return f"points at {kind.value}, allowed only if OUTBOUND_ALLOW_PRIVATE=true"
    return f"points at {kind.value}, which is never allowed"


TokenUrl = Annotated[
    str,
    BeforeValidator(parse_token_url, json_schema_input_type=str),
    Field(description="The provider's OAuth2 token endpoint, https."),
]
ClientId = Annotated[str, _printable("client_id", MAX_CLIENT_ID_LENGTH)]
Scope = Annotated[str | None, BeforeValidator(_parse_scope, json_schema_input_type=str | None)]


class OAuth2Settings(BaseModel):
    """What is stored in DynamoDB and shown by GET: no secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: TokenUrl
    client_id: ClientId
    scope: Scope = None
    grant: Annotated[Grant, BeforeValidator(_parse_grant, json_schema_input_type=Grant | None)] = (
        Field(description="Shown by GET; on input, optional (see the secrets given).")
    )


class OAuth2Input(OAuth2Settings):
    """What an admin sends: the settings and the secrets, which go to Secrets Manager.

    `grant` may be left out (see the module's table). The destination is checked here, on the
    way in only: a stored service is read as it is, and judged again when a token is fetched.
    """

    client_secret: Annotated[str | None, _printable("client_secret", MAX_CLIENT_SECRET_LENGTH)] = (
        Field(default=None, repr=False)
    )
    refresh_token: Annotated[str | None, _printable("refresh_token", MAX_REFRESH_TOKEN_LENGTH)] = (
        Field(default=None, repr=False)
    )

    @model_validator(mode="before")
    @classmethod
    def _grant_from_the_secrets(cls, data: Any) -> Any:
        """No `grant` given: the refresh-token grant when a refresh token is, else client
        credentials."""
        if isinstance(data, dict) and data.get("grant") in (None, ""):
            given = data.get("refresh_token") not in (None, "")
            return {**data, "grant": Grant.REFRESH_TOKEN if given else Grant.CLIENT_CREDENTIALS}
        return data

    @model_validator(mode="after")
    def _valid_combination(self) -> Self:
        resolve_grant(
            self.grant,
            client_secret=self.client_secret is not None,
            refresh_token=self.refresh_token is not None,
        )
        check_token_destination(self.token_url)
        return self

    def stored(self) -> OAuth2Settings:
        """The part that is kept in DynamoDB and shown."""
        return OAuth2Settings.model_validate(
            self.model_dump(exclude={"client_secret", "refresh_token"})
        )
