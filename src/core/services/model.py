"""An email service definition: where and how to reach the SMTP server, and sender defaults.

The password is never part of these models: it goes to Secrets Manager on the way in
(`ServiceInput.config.password`) and only its secret's version is kept here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from core.access.model import RateLimits
from core.addresses import check_header_text, parse_mailbox
from core.errors import InvalidRequest
from core.settings import get_settings
from core.transport.destination import (
    DestinationForbidden,
    DestinationPolicy,
    check_destination,
    ip_literal,
    is_host_name,
    normalize_host,
)

# Lower-case, URL-safe, and never "system" (that path belongs to the admin API).
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_NAMES = frozenset({"system"})


class Encryption(StrEnum):
    # DreamFactory's "leave empty": STARTTLS whenever the server offers it, plain otherwise.
    OPPORTUNISTIC = ""
    TLS = "tls"  # STARTTLS, required; usually port 587
    SSL = "ssl"  # implicit TLS, usually port 465
    NONE = "none"  # plain text, by explicit choice


class UnknownOutcome(StrEnum):
    """What the queue does with a message whose connection broke after its final dot."""

    HOLD = "hold"  # at most once: settle it `unknown`, never resend it
    RETRY = "retry"  # at least once, as MTAs do: resend it like a transient failure


def _parse_encryption(value: Any) -> Encryption:
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


def forbidden_destination(error: DestinationForbidden, field: str) -> InvalidRequest:
    """The 400 for a host or port the SSRF guard refuses; `field` names it to the caller."""
    return InvalidRequest(error.message, reason="destination_forbidden", context={"field": field})


def _optional_sender(field: str) -> BeforeValidator:
    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        return parse_mailbox(str(value), None, field).email

    return BeforeValidator(parse, json_schema_input_type=str | None)


def _header_text(field: str) -> BeforeValidator:
    return BeforeValidator(lambda v: check_header_text(v, field) if isinstance(v, str) else v)


class ServiceConfig(BaseModel):
    """What is stored in DynamoDB and shown by GET: never the password."""

    model_config = ConfigDict(extra="forbid")

    # An IP literal is kept in its one canonical spelling (`127.1` is stored as 127.0.0.1).
    host: Annotated[
        str,
        Field(min_length=1, max_length=253, pattern=r"^[^\s]+$"),
        AfterValidator(normalize_host),
    ]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    # DreamFactory's default: STARTTLS when the server offers it (and never credentials in
    # clear text unless 'none' is chosen explicitly).
    encryption: Annotated[
        Encryption, BeforeValidator(_parse_encryption, json_schema_input_type=str | None)
    ] = Encryption.OPPORTUNISTIC
    verify_tls: bool = True
    username: str | None = None
    from_name: Annotated[str | None, _header_text("config.from_name")] = None
    from_email: Annotated[str | None, _optional_sender("config.from_email")] = None
    reply_to_name: Annotated[str | None, _header_text("config.reply_to_name")] = None
    reply_to_email: Annotated[str | None, _optional_sender("config.reply_to_email")] = None
    # The provider's own limits (Gmail 500/day, Microsoft 365 10,000/day, SES per account):
    # queued mail is paced to stay within them, a synchronous send over them gets a 429.
    max_send_rate: Annotated[int, Field(ge=1)] | None = None  # messages per second
    daily_quota: Annotated[int, Field(ge=1)] | None = None
    # Recipients a message may have; unset: the operator's ceiling (MAX_RECIPIENTS, 50).
    max_recipients: Annotated[int, Field(ge=1)] | None = None
    # After the final dot, a broken connection leaves the outcome unknown: 'hold' never
    # resends (no duplicate, maybe no delivery), 'retry' resends (maybe a duplicate).
    unknown_outcome: UnknownOutcome = UnknownOutcome.HOLD

    def recipient_limit(self, ceiling: int) -> int:
        """This service's cap on recipients a message, never above the operator's ceiling."""
        return min(self.max_recipients or ceiling, ceiling)

    def provider_limits(self) -> RateLimits:
        return RateLimits(per_second=self.max_send_rate, per_day=self.daily_quota)


class ServiceConfigInput(ServiceConfig):
    """What an admin sends: the stored config plus the password, which goes to Secrets Manager."""

    password: str | None = Field(default=None, repr=False)

    # Checked on the way in only (create, and PATCH, which validates the merged service): a
    # stored service is read as it is, and checked again when connecting, after DNS.
    @field_validator("host")
    @classmethod
    def _host_name_or_address(cls, host: str) -> str:
        if ip_literal(host) is None and not is_host_name(host):
            raise ValueError("not a host name or an IP address")
        return host

    @model_validator(mode="after")
    def _allowed_destination(self) -> Self:
        try:
            check_destination(self.host, self.port, DestinationPolicy.from_settings(get_settings()))
        except DestinationForbidden as error:
            raise forbidden_destination(error, f"config.{error.field}") from None
        return self

    def stored(self) -> ServiceConfig:
        return ServiceConfig.model_validate(self.model_dump(exclude={"password"}))


class ServiceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    label: str = ""
    description: str = ""
    type: Literal["smtp"] = "smtp"

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if not SERVICE_NAME.match(name) or name in RESERVED_NAMES:
            raise InvalidRequest(
                f"Invalid service name '{name}': use 1-64 lower-case letters, digits, '-' or '_'"
                " (and not 'system').",
                reason="invalid_service_name",
                context={"field": "name"},
            )
        return name


class ServiceInput(ServiceBase):
    """`POST /api/v2/system/service` body (one service)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "email",
                    "label": "Mail",
                    "description": "Amazon SES through its SMTP endpoint",
                    "config": {
                        "host": "email-smtp.us-east-1.amazonaws.com",
                        "port": 587,
                        "encryption": "tls",
                        "username": "AKIAEXAMPLE",
                        "password": "smtp-password",
                        "from_name": "Example Shop",
                        "from_email": "shop@example.com",
                    },
                }
            ]
        }
    )

    config: ServiceConfigInput


class Service(ServiceBase):
    """A stored service definition."""

    config: ServiceConfig
    # The Secrets Manager secret holding the password, and the version last written: a
    # change of version tells every warm Lambda to drop its cached credentials.
    secret_id: str | None = None
    secret_version: str | None = None
    created_at: str = ""
    updated_at: str = ""

    def public(self) -> dict[str, Any]:
        """The view any GET returns: no secret material, not even where it lives."""
        return self.model_dump(mode="json", exclude={"secret_id", "secret_version"})
