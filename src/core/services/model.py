"""An email service definition: its type, where and how its provider is reached, and sender
defaults.

`config` is of the class `type` names: `SmtpConfig` (types `smtp_email`, `smtp`, and a missing
or null type) or `SesConfig` (`ses`), both sharing `ServiceConfigBase`. The password is never
part of these models: it goes to Secrets Manager on the way in (`SmtpConfigInput.password`)
and only its secret's version is kept here. So do an SMTP service's OAuth2 client secret and
refresh token (`config.oauth2`, with `config.auth: "oauth2"`; see `core.oauth2.config`), and a
DKIM private key (`config.dkim`, any type; see `core.dkim.config`).

A record as DreamFactory exports it is taken as it is: `type` `smtp_email`, `is_active`,
`config.parameters`, and `null` for any field left unset.
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
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from core.access.model import RateLimits
from core.addresses import OptionalEmailAddress, check_header_text, parse_mailbox
from core.credentials import ServiceCredentials
from core.delivery.retry import MAX_RETRY_WINDOW_MINUTES
from core.dkim.config import DkimInput, DkimSettings
from core.errors import InvalidRequest
from core.network.destination import (
    DestinationForbidden,
    DestinationPolicy,
    check_destination,
    ip_literal,
    is_host_name,
    normalize_host,
)
from core.oauth2.config import OAuth2Input, OAuth2Settings
from core.services.parameters import (
    MAX_PARAMETERS,
    ParameterInput,
    ServiceParameter,
    parse_parameters,
)
from core.services.suppression_scope import SuppressionScope
from core.settings import get_settings
from core.validation import MAX_RECORD_ID, NUMBER_ONLY, JsonBool, RecordId

# The validation context of a stored service's name, checked again in a PATCH.
STORED_NAME = "stored_name"
# The MAIL_* service (from the environment, never stored) shows this id: the counter starts at 1
# and a kept id must be at least 1, so no stored service can ever have it.
FALLBACK_SERVICE_ID = 0

# A queued batch's connections to one provider at once (`config.max_connections`).
DEFAULT_MAX_CONNECTIONS = 4
MAX_CONNECTIONS = 10

# Lower-case, URL-safe, and never "system" (that path belongs to the admin API).
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_NAMES = frozenset({"system"})


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


class ServiceType(StrEnum):
    """How a service sends. `smtp_email` and `smtp` both mean SMTP; the type is kept as it was
    given, since DreamFactory clients read it."""

    SMTP_EMAIL = "smtp_email"  # DreamFactory's name
    SMTP = "smtp"
    SES = "ses"  # Amazon SES's API, with the function's own IAM role


# The types the API takes: those a transport serves (`core.transport.factory.KINDS`; a unit
# test keeps the two equal).
ACCEPTED_SERVICE_TYPES = (ServiceType.SMTP_EMAIL, ServiceType.SMTP, ServiceType.SES)
SMTP_TYPES = frozenset({ServiceType.SMTP_EMAIL, ServiceType.SMTP})


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


def _parse_auth(value: Any) -> AuthMethod:
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


def parse_service_type(value: Any) -> ServiceType:
    """A service's `type` (null: `smtp`), or a 400 naming it and the accepted ones."""
    if value is None:
        return ServiceType.SMTP
    accepted = [kind.value for kind in ACCEPTED_SERVICE_TYPES]
    if isinstance(value, str) and value in accepted:
        return ServiceType(value)
    raise InvalidRequest(
        f"Service type '{value}' is not supported: this API sends through SMTP (type"
        " 'smtp_email' or 'smtp') or Amazon SES's API (type 'ses').",
        reason="unsupported_service_type",
        context={"field": "type", "accepted": accepted},
    )


def forbidden_destination(error: DestinationForbidden, field: str) -> InvalidRequest:
    """The 400 for a host or port the SSRF guard refuses; `field` names it to the caller."""
    return InvalidRequest(error.message, reason="destination_forbidden", context={"field": field})


def _optional_sender(field: str) -> BeforeValidator:
    def parse(value: Any) -> str | None:
        if value in (None, ""):
            return None
        return parse_mailbox(str(value), None, field).email

    return BeforeValidator(parse, json_schema_input_type=OptionalEmailAddress)


def _header_text(field: str) -> BeforeValidator:
    return BeforeValidator(lambda v: check_header_text(v, field) if isinstance(v, str) else v)


def _nulls_as_unset(model: type[BaseModel], data: Any) -> Any:
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
        return _nulls_as_unset(cls, data)

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
        Encryption, BeforeValidator(_parse_encryption, json_schema_input_type=str | None)
    ] = Encryption.OPPORTUNISTIC
    verify_tls: JsonBool = True
    username: str | None = None
    # 'oauth2': AUTH XOAUTH2 as `username`, with a token got as `oauth2` says.
    auth: Annotated[
        AuthMethod, BeforeValidator(_parse_auth, json_schema_input_type=AuthMethod | None)
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


class SmtpConfigInput(SmtpConfig):
    """What an admin sends for an SMTP service: the stored config plus the password, which
    goes to Secrets Manager."""

    password: str | None = Field(default=None, repr=False)
    # The settings with the client secret and refresh token (input only, as the password).
    oauth2: OAuth2Input | None = None
    # The settings with the private key (input only, as the password).
    dkim: DkimInput | None = None

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

    @model_validator(mode="after")
    def _oauth2_when_chosen(self) -> Self:
        """`auth: oauth2` needs its settings and the mailbox to log in as; the settings of an
        unchosen method are refused rather than kept unused."""
        if self.auth is AuthMethod.OAUTH2 and self.oauth2 is None:
            raise InvalidRequest(
                "'config.auth' is 'oauth2', so 'config.oauth2' must say where tokens come from"
                " (token_url, client_id, and client_secret or refresh_token).",
                reason="oauth2_settings_missing",
                context={"field": "config.oauth2"},
            )
        if self.auth is AuthMethod.OAUTH2 and not self.username:
            raise InvalidRequest(
                "'config.auth' is 'oauth2', so 'config.username' must name the mailbox that"
                " sends (XOAUTH2 logs in as it).",
                reason="username_required",
                context={"field": "config.username"},
            )
        if self.auth is AuthMethod.PASSWORD and self.oauth2 is not None:
            raise InvalidRequest(
                "'config.oauth2' is given, but 'config.auth' is 'password': set 'auth' to"
                " 'oauth2' to use it, or leave 'oauth2' out.",
                reason="oauth2_not_used",
                context={"field": "config.oauth2"},
            )
        return self

    def stored(self) -> SmtpConfig:
        kept = self.model_dump(exclude={"password", "oauth2", "dkim"})
        oauth2 = self.oauth2.stored() if self.oauth2 is not None else None
        return SmtpConfig.model_validate({**kept, "oauth2": oauth2, "dkim": _stored_dkim(self)})


class SesConfigInput(SesConfig):
    """What an admin sends for an SES service: as stored, but for the DKIM key (its only
    possible secret)."""

    dkim: DkimInput | None = None

    def stored(self) -> SesConfig:
        kept = self.model_dump(exclude={"dkim"})
        return SesConfig.model_validate({**kept, "dkim": _stored_dkim(self)})


ServiceConfigInput = SmtpConfigInput | SesConfigInput


def _stored_dkim(config: SmtpConfigInput | SesConfigInput) -> DkimSettings | None:
    return config.dkim.stored() if config.dkim is not None else None


def config_class(service_type: ServiceType | None) -> type[SmtpConfig] | type[SesConfig]:
    """The class of a stored `config` for a service of `service_type` (None: SMTP, as a
    missing or null `type` means)."""
    return SesConfig if service_type is ServiceType.SES else SmtpConfig


def config_input_class(
    service_type: ServiceType | None,
) -> type[SmtpConfigInput] | type[SesConfigInput]:
    """The class of a `config` as an admin sends it, for a service of `service_type`."""
    return SesConfigInput if service_type is ServiceType.SES else SmtpConfigInput


def password_of(config: ServiceConfigInput) -> str | None:
    """The password an admin sent with `config` (SMTP's only), bound for Secrets Manager."""
    return config.password if isinstance(config, SmtpConfigInput) else None


def credentials_of(config: ServiceConfigInput) -> ServiceCredentials:
    """Every secret an admin sent with `config`, bound for Secrets Manager: SMTP's login, and
    the DKIM key of any type."""
    dkim_key = config.dkim.private_key if config.dkim is not None else None
    if not isinstance(config, SmtpConfigInput):
        return ServiceCredentials(dkim_private_key=dkim_key)
    oauth2 = config.oauth2
    return ServiceCredentials(
        password=config.password,
        oauth2_client_secret=oauth2.client_secret if oauth2 is not None else None,
        oauth2_refresh_token=oauth2.refresh_token if oauth2 is not None else None,
        dkim_private_key=dkim_key,
    )


def _config_by_type(
    value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo, *, given: bool
) -> Any:
    """`config` validated as the class the service's `type` names (validated before it; a
    type that failed is taken as SMTP's, whose errors are the familiar ones)."""
    kind = info.data.get("type")
    chosen = config_input_class(kind) if given else config_class(kind)
    if isinstance(value, chosen):
        return value
    return chosen.model_validate(value.model_dump() if isinstance(value, BaseModel) else value)


class ServiceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unset_when_null(cls, data: Any) -> Any:
        return _nulls_as_unset(cls, data)

    # DreamFactory's numeric id, given by the repository (core.numeric_ids); found again in
    # /api/v2/system/service/{id_or_name} as well as the name.
    id: Annotated[int, Field(ge=0, le=MAX_RECORD_ID), NUMBER_ONLY] | None = None
    # Checked by `_valid_name` (its own reason); the document shows the same rule.
    name: Annotated[
        str,
        Field(
            json_schema_extra={
                "pattern": SERVICE_NAME.pattern,
                "not": {"enum": sorted(RESERVED_NAMES)},
            }
        ),
    ]
    label: str = ""
    description: str = ""
    type: Annotated[
        ServiceType,
        BeforeValidator(
            parse_service_type,
            json_schema_input_type=Literal[ServiceType.SMTP_EMAIL, ServiceType.SMTP] | None,
        ),
    ] = ServiceType.SMTP
    # An inactive service is kept, but sends through it are refused (`service_inactive`).
    is_active: JsonBool = True

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        # fullmatch: `$` alone would let a trailing newline through ("email\n").
        if not SERVICE_NAME.fullmatch(name) or name in RESERVED_NAMES:
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
                    "type": "smtp_email",
                    "is_active": True,
                    "config": {
                        "host": "email-smtp.us-east-1.amazonaws.com",
                        "port": 587,
                        "encryption": "tls",
                        "username": "AKIAEXAMPLE",
                        "password": "smtp-password",
                        "from_name": "Example Shop",
                        "from_email": "shop@example.com",
                        "parameters": [{"name": "company", "value": "Example Shop"}],
                    },
                }
            ]
        }
    )

    id: RecordId | None = Field(
        default=None,
        description="Kept only with `?keep_ids=true` (an import from DreamFactory), when no "
        "other service has it; otherwise ignored, as DreamFactory ignores it: a new service "
        "gets the next id.",
    )
    # The rules of `ServiceBase`, and no name of digits only, which would read as an id.
    name: Annotated[
        str,
        Field(
            json_schema_extra={
                "pattern": SERVICE_NAME.pattern,
                "not": {"anyOf": [{"enum": sorted(RESERVED_NAMES)}, {"pattern": "^[0-9]+$"}]},
            }
        ),
    ]
    config: ServiceConfigInput

    @field_validator("name")
    @classmethod
    def _not_an_id(cls, name: str, info: ValidationInfo) -> str:
        # A PATCH validates a stored service again: a name of digits from before ids stays.
        if name.isdigit() and not (info.context or {}).get(STORED_NAME):
            raise InvalidRequest(
                f"Invalid service name '{name}': it must not be all digits, which name an id"
                " in /api/v2/system/service/{id_or_name}.",
                reason="invalid_service_name",
                context={"field": "name"},
            )
        return name

    @field_validator("config", mode="wrap")
    @classmethod
    def _config_of_its_type(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        return _config_by_type(value, handler, info, given=True)


class Service(ServiceBase):
    """A stored service definition."""

    config: ServiceConfig
    # The Secrets Manager secret holding the password, and the version last written: a
    # change of version tells every warm Lambda to drop its cached credentials.
    secret_id: str | None = None
    secret_version: str | None = None
    created_at: str = ""
    updated_at: str = ""

    @field_validator("config", mode="wrap")
    @classmethod
    def _config_of_its_type(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        return _config_by_type(value, handler, info, given=False)

    @property
    def smtp(self) -> SmtpConfig:
        """Its `config` as an SMTP service's; a `TypeError` for another type (a bug: callers
        ask only for a service of an SMTP type)."""
        if not isinstance(self.config, SmtpConfig):
            raise TypeError(f"service '{self.name}' is of type '{self.type}', not SMTP")
        return self.config

    @property
    def ses(self) -> SesConfig:
        """Its `config` as an SES service's; a `TypeError` for another type (a bug: callers
        ask only for a service of type `ses`)."""
        if not isinstance(self.config, SesConfig):
            raise TypeError(f"service '{self.name}' is of type '{self.type}', not SES")
        return self.config

    def public(self) -> dict[str, Any]:
        """The view any GET returns: no secret material, not even where it lives. A service
        logging in with a password shows no `auth` or `oauth2`, and one that does not sign no
        `dkim`: its record keeps the shape DreamFactory clients know."""
        shown = self.model_dump(mode="json", exclude={"secret_id", "secret_version"})
        if isinstance(self.config, SmtpConfig) and self.config.auth is AuthMethod.PASSWORD:
            for key in ("auth", "oauth2"):
                shown["config"].pop(key, None)
        if self.config.dkim is None:
            shown["config"].pop("dkim", None)
        for key in ("ses_message_tags", "ses_configuration_set"):
            if shown["config"].get(key, False) is None:
                shown["config"].pop(key)
        return shown
