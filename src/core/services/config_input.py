"""A service's `config` as an admin sends it: the stored config (`core.services.config`) plus
its secrets (an SMTP password, OAuth2's client secret and refresh token, a DKIM key), which go
to Secrets Manager (`credentials_of`) and never into the stored record (`stored`). The host
and port are checked against the SSRF guard on the way in.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from core.credentials import ServiceCredentials
from core.dkim.config import DkimInput, DkimSettings
from core.errors import InvalidRequest
from core.network.destination import (
    DestinationForbidden,
    DestinationPolicy,
    check_destination,
    ip_literal,
    is_host_name,
)
from core.oauth2.config import OAuth2Input
from core.services.config import SesConfig, SmtpConfig
from core.services.service_type import ServiceType
from core.services.smtp_options import AuthMethod
from core.settings import get_settings


def forbidden_destination(error: DestinationForbidden, field: str) -> InvalidRequest:
    """The 400 for a host or port the SSRF guard refuses; `field` names it to the caller."""
    return InvalidRequest(error.message, reason="destination_forbidden", context={"field": field})


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
