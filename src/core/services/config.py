"""A stored service's `config`, of the class its `type` names: `SmtpConfig` (types
`smtp_email`, `smtp`, and a missing or null type) or `SesConfig` (`ses`), both sharing
`ServiceConfigBase`: sender defaults, the provider's limits, DreamFactory's parameters. No
secret is part of these: what an admin sends with them is `core.services.config_input`'s.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core.access.model import RateLimits
from core.addresses import OptionalEmailAddress, check_header_text, parse_mailbox
from core.delivery.retry import MAX_RETRY_WINDOW_MINUTES
from core.dkim.config import DkimSettings
from core.network.destination import normalize_host
from core.oauth2.config import OAuth2Settings
from core.services.parameters import (
    MAX_PARAMETERS,
    ParameterInput,
    ServiceParameter,
    parse_parameters,
)
from core.services.service_type import ServiceType
from core.services.smtp_options import AuthMethod, Encryption, Port, parse_auth, parse_encryption
from core.services.suppression_scope import SuppressionScope
from core.validation import NUMBER_ONLY, JsonBool

# A queued batch's connections to one provider at once (`config.max_connections`).
DEFAULT_MAX_CONNECTIONS = 4
MAX_CONNECTIONS = 10


class UnknownOutcome(StrEnum):
    """What the queue does with a message whose connection broke after its final dot."""

    HOLD = "hold"  # at most once: settle it `unknown`, never resend it
    RETRY = "retry"  # at least once, as MTAs do: resend it like a transient failure


def _optional_sender(field: str) -> BeforeValidator:
    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        return parse_mailbox(str(value), None, field).email

    return BeforeValidator(parse, json_schema_input_type=OptionalEmailAddress)


def _header_text(field: str) -> BeforeValidator:
    return BeforeValidator(lambda v: check_header_text(v, field) if isinstance(v, str) else v)


def nulls_as_unset(model: type[BaseModel], data: Any) -> Any:
    """DreamFactory writes `null` for a field left unset: it takes the field's default. A
    required field (`host`, `name`) still has to be given."""
    if not isinstance(data, dict):
        return data
    fields = model.model_fields
    return {
        key: value
        for key, value in data.items()
        if not (
            value is None
            and key in fields
            and not fields[key].is_required()
            and fields[key].get_default(call_default_factory=True) is not None
        )
    }


class ServiceConfigBase(BaseModel):
    """What every service's `config` has, whatever its type: sender defaults, the provider's
    limits, what to do with an unknown outcome, and DreamFactory's parameters. Stored in
    DynamoDB and shown by GET: never a secret."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unset_when_null(cls, data: Any) -> Any:
        return nulls_as_unset(cls, data)

    from_name: Annotated[str | None, _header_text("config.from_name")] = None
    from_email: Annotated[str | None, _optional_sender("config.from_email")] = None
    reply_to_name: Annotated[str | None, _header_text("config.reply_to_name")] = None
    reply_to_email: Annotated[str | None, _optional_sender("config.reply_to_email")] = None
    # The provider's own limits (Gmail 500/day, Microsoft 365 10,000/day, SES per account):
    # queued mail is paced to stay within them, a synchronous send over them gets a 429.
    max_send_rate: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None  # messages per second
    daily_quota: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None
    # Connections the worker opens to the provider at once to send a queued batch, each one
    # pipelining: a batch goes about this many times faster. Providers refuse a client that
    # opens too many (Microsoft 365 and Gmail take a few at a time), hence a small default.
    max_connections: Annotated[int, Field(ge=1, le=MAX_CONNECTIONS), NUMBER_ONLY] = (
        DEFAULT_MAX_CONNECTIONS
    )
    # Recipients a message may have; unset: the operator's ceiling (MAX_RECIPIENTS, 50).
    max_recipients: Annotated[int, Field(ge=1), NUMBER_ONLY] | None = None
    # After the final dot, a broken connection leaves the outcome unknown: 'hold' never
    # resends (no duplicate, maybe no delivery), 'retry' resends (maybe a duplicate).
    unknown_outcome: UnknownOutcome = UnknownOutcome.HOLD
    # How long queued mail keeps trying through transient failures (a provider's outage),
    # from its first attempt; unset: the operator's RETRY_WINDOW_MINUTES (24 hours). Past
    # it, a message still deferred is `failed` (`retries_exhausted`). At most 5 days, as
    # Postfix keeps trying, well within a record's 30 days.
    retry_window_minutes: Annotated[int, Field(ge=1, le=MAX_RETRY_WINDOW_MINUTES)] | None = None
    # Whose sends a permanent bounce or a complaint about this service's mail stops: every
    # service's (`account`, the suppression list's `*`), or this service's alone (`service`).
    suppression_scope: SuppressionScope = SuppressionScope.ACCOUNT
    # DreamFactory's placeholder values for every send through this service, lowest priority
    # first (see `placeholder_parameters`).
    parameters: Annotated[
        list[ServiceParameter],
        BeforeValidator(
            parse_parameters,
            json_schema_input_type=Annotated[list[ParameterInput], Field(max_length=MAX_PARAMETERS)]
            | None,
        ),
    ] = Field(default_factory=list)
    # DreamFactory puts placeholder values into `body_html` as they are. Here they are
    # HTML-escaped unless this is false: a value often comes from the request (a user's
    # name, say), and escaped it cannot add markup, links or scripts to what recipients see.
    # `false` is for clients that pass HTML fragments as values, as DreamFactory allows.
    escape_html_values: JsonBool = True
    # Sign every message with this domain's DKIM key (the key: `DkimInput`, then Secrets
    # Manager); unset: unsigned, as before (a provider may still sign with its own domain).
    dkim: DkimSettings | None = None

    def placeholder_parameters(self) -> dict[str, str]:
        """Name -> value of the active parameters that have a value: the lowest-priority
        placeholder values of a send. A name given twice takes its last value, as in
        DreamFactory."""
        return {
            parameter.name: parameter.value
            for parameter in self.parameters
            if parameter.active and parameter.value is not None
        }

    def recipient_limit(self, ceiling: int) -> int:
        """This service's cap on recipients a message, never above the operator's ceiling."""
        return min(self.max_recipients or ceiling, ceiling)

    def provider_limits(self) -> RateLimits:
        return RateLimits(per_second=self.max_send_rate, per_day=self.daily_quota)


# SES's rule for a configuration set's name.
SES_CONFIGURATION_SET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SmtpConfig(ServiceConfigBase):
    """An SMTP service's `config` (types `smtp_email` and `smtp`): where its server is, how
    to reach it, and who to log in as (the password: `SmtpConfigInput`, then Secrets Manager)."""

    # An IP literal is kept in its one canonical spelling (`127.1` is stored as 127.0.0.1).
    host: Annotated[
        str,
        Field(min_length=1, max_length=253, pattern=r"^[^\s]+$"),
        AfterValidator(normalize_host),
    ]
    port: Port = 587
    # DreamFactory's default: STARTTLS when the server offers it (and never credentials in
    # clear text unless 'none' is chosen explicitly).
    encryption: Annotated[
        Encryption, BeforeValidator(parse_encryption, json_schema_input_type=str | None)
    ] = Encryption.OPPORTUNISTIC
    verify_tls: JsonBool = True
    username: str | None = None
    # 'oauth2': AUTH XOAUTH2 as `username`, with a token got as `oauth2` says.
    auth: Annotated[
        AuthMethod, BeforeValidator(parse_auth, json_schema_input_type=AuthMethod | None)
    ] = AuthMethod.PASSWORD
    oauth2: OAuth2Settings | None = None
    # SES's SMTP interface reads its message tags and configuration set from header fields
    # (`core.composition.ses_fields`): written when this is true, never when false, and when
    # unset for a host that is an SES SMTP endpoint (`email-smtp.<region>.amazonaws.com`).
    ses_message_tags: JsonBool | None = Field(
        default=None,
        description="Send the message's tags and metadata as `X-SES-MESSAGE-TAGS` (and"
        " `ses_configuration_set` as `X-SES-CONFIGURATION-SET`): `true`, `false`, or unset"
        " for yes when `host` is an SES SMTP endpoint (`email-smtp.<region>.amazonaws.com`).",
    )
    ses_configuration_set: Annotated[str, Field(pattern=SES_CONFIGURATION_SET.pattern)] | None = (
        Field(
            default=None,
            description="The SES configuration set to name in `X-SES-CONFIGURATION-SET`, when"
            " the service sends SES's header fields (see `ses_message_tags`).",
        )
    )


# An AWS region's name (us-east-1, eu-central-2, us-gov-west-1, ...).
AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


class SesConfig(ServiceConfigBase):
    """An Amazon SES API service's `config` (type `ses`): the region to send in, and the
    configuration set every message names, if any. No host and no secret: the function's own
    IAM role sends."""

    region: Annotated[str, Field(pattern=AWS_REGION.pattern)]
    configuration_set: Annotated[str, Field(pattern=SES_CONFIGURATION_SET.pattern)] | None = None


# A service's `config`, of the class its `type` names (`config_class`).
ServiceConfig = SmtpConfig | SesConfig


def config_class(service_type: ServiceType | None) -> type[SmtpConfig] | type[SesConfig]:
    """The class of a stored `config` for a service of `service_type` (None: SMTP, as a
    missing or null `type` means)."""
    return SesConfig if service_type is ServiceType.SES else SmtpConfig
