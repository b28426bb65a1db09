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

Here: the service record (`ServiceInput` as an admin sends it, `Service` as stored). Its
parts: `service_type`, `config` (stored), `config_input` (with the secrets), `smtp_options`
(port, encryption, login method), `parameters`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from core.errors import InvalidRequest
from core.services.config import ServiceConfig, SesConfig, SmtpConfig, config_class, nulls_as_unset
from core.services.config_input import ServiceConfigInput, config_input_class
from core.services.service_type import ServiceType, parse_service_type
from core.services.smtp_options import AuthMethod
from core.validation import MAX_RECORD_ID, NUMBER_ONLY, JsonBool, RecordId

# The validation context of a stored service's name, checked again in a PATCH.
STORED_NAME = "stored_name"
# The MAIL_* service (from the environment, never stored) shows this id: the counter starts at 1
# and a kept id must be at least 1, so no stored service can ever have it.
FALLBACK_SERVICE_ID = 0

# Lower-case, URL-safe, and never "system" (that path belongs to the admin API).
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
RESERVED_NAMES = frozenset({"system"})


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
        return nulls_as_unset(cls, data)

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
