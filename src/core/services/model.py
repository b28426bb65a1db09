"""An email service definition: where and how to reach the SMTP server, and sender defaults.

The password is never part of these models: it goes to Secrets Manager on the way in
(`ServiceInput.config.password`) and only its secret's version is kept here.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.access.model import RateLimits
from core.addresses import parse_mailbox, reject_line_breaks
from core.errors import InvalidRequest

# Lower-case, URL-safe, and never "system" (that path belongs to the admin API).
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_NAMES = frozenset({"system"})


class Encryption(StrEnum):
    # DreamFactory's "leave empty": STARTTLS whenever the server offers it, plain otherwise.
    OPPORTUNISTIC = ""
    TLS = "tls"  # STARTTLS, required; usually port 587
    SSL = "ssl"  # implicit TLS, usually port 465
    NONE = "none"  # plain text, by explicit choice


def _parse_encryption(value: Any) -> Encryption:
    # DreamFactory leaves the field empty for "no encryption".
    if value is None or value == "":
        return Encryption.NONE
    try:
        return Encryption(str(value).lower())
    except ValueError:
        raise InvalidRequest(
            f"Invalid encryption '{value}': use 'tls' (STARTTLS), 'ssl' (implicit TLS) or 'none'.",
            reason="invalid_encryption",
            context={"field": "config.encryption"},
        ) from None


def _optional_sender(field: str) -> BeforeValidator:
    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        return parse_mailbox(str(value), None, field).email

    return BeforeValidator(parse, json_schema_input_type=str | None)


def _header_text(field: str) -> BeforeValidator:
    return BeforeValidator(lambda v: reject_line_breaks(v, field) if isinstance(v, str) else v)


class ServiceConfig(BaseModel):
    """What is stored in DynamoDB and shown by GET: never the password."""

    model_config = ConfigDict(extra="forbid")

    host: Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[^\s]+$")]
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    # A secure default: DreamFactory's examples all pair port 587 with STARTTLS.
    encryption: Annotated[
        Encryption, BeforeValidator(_parse_encryption, json_schema_input_type=str | None)
    ] = Encryption.TLS
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

    def provider_limits(self) -> RateLimits:
        return RateLimits(per_second=self.max_send_rate, per_day=self.daily_quota)


class ServiceConfigInput(ServiceConfig):
    """What an admin sends: the stored config plus the password, which goes to Secrets Manager."""

    password: str | None = Field(default=None, repr=False)

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
