"""A suppressed address, its scope and why it is there; the list's paging. No AWS here: the
DynamoDB adapter is `core.suppression.store`."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from core.addresses import EmailAddress
from core.services.model import SERVICE_NAME, Service
from core.services.suppression_scope import SuppressionScope

# The scope of an entry that holds for every service; any other scope is one service's name.
ACCOUNT_WIDE = "*"


def bounce_scope(service: Service | None) -> str:
    """The scope a permanent bounce or a complaint about `service`'s mail suppresses in: the
    service's own when its `suppression_scope` says so, else (and for a service gone since)
    every service's."""
    if service is not None and service.config.suppression_scope is SuppressionScope.SERVICE:
        return service.name
    return ACCOUNT_WIDE


class Reason(StrEnum):
    BOUNCE = "bounce"  # a permanent bounce
    COMPLAINT = "complaint"
    MANUAL = "manual"  # an admin, through the API or the CLI


class Source(BaseModel):
    """What put the address on the list: the message and provider event, or the admin key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    message_id: str | None = Field(default=None, description="The message that bounced.")
    event: str | None = Field(default=None, description="The provider event, e.g. `Bounce`.")
    key_id: str | None = Field(default=None, description="The API key that added it by hand.")


class Suppression(BaseModel):
    """One entry: `email` is not sent to by the services `scope` covers."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "email": "gone@example.com",
                    "scope": "*",
                    "reason": "bounce",
                    "added_at": "2026-11-30T12:00:00+00:00",
                    "source": {"message_id": "9b2f6c1e4d8a4f0e9c3b7a1d2e5f6a7b", "event": "Bounce"},
                }
            ]
        },
    )

    email: str
    scope: str = Field(
        default=ACCOUNT_WIDE,
        description="`*` for every service, else the one service's name.",
    )
    reason: Reason
    added_at: str = ""
    source: Source = Field(default_factory=Source)


class SuppressionInput(BaseModel):
    """An admin's addition: the address, why (`manual` unless said), and the one service it
    holds for (every service when absent)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "gone@example.com", "reason": "manual"}]},
    )

    email: EmailAddress
    reason: Reason = Reason.MANUAL
    service: str | None = Field(
        default=None,
        pattern=SERVICE_NAME.pattern,
        description="Suppress it for this service only; absent: for every service.",
    )


class SuppressionPage(BaseModel):
    """One page of the list, and the opaque cursor of the next (None: this was the last)."""

    model_config = ConfigDict(frozen=True)

    entries: list[Suppression]
    next_cursor: str | None = None


def scopes_of(service: str) -> tuple[str, str]:
    """The scopes whose entries hold for a send through `service`."""
    return (ACCOUNT_WIDE, service)


def normalized(email: str) -> str:
    """The form an address is kept and looked up in: as email-validator gives it (which the
    envelope's recipients already are), with the domain lower-cased. The local part keeps its
    case: RFC 5321 leaves it to the receiving server, and email-validator keeps it."""
    local, at, domain = email.rpartition("@")
    return f"{local}{at}{domain.lower()}" if at else email
