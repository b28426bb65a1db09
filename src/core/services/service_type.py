"""A service's `type`: how it sends (SMTP under either of its names, or SES's API)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from core.errors import InvalidRequest


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
