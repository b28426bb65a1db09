"""Amazon SES's API as a kind of transport, as the factory's table has it: a service's SES
transport (its region, configuration set, and the default sender its connection test checks)
and what identifies its client. It needs no credentials of the service's: the function's IAM
role signs its requests (a DKIM key, if the service has one, is read from its secret)."""

from __future__ import annotations

from collections.abc import Hashable

from core.services.model import Service
from core.transport.ses.transport import SesTransport
from core.transport.signer import signer_for
from core.transport.supplies import Supplies


def build_ses(service: Service, supplies: Supplies) -> SesTransport:
    """A closed SES transport for `service`, signing with its DKIM key when it has one."""
    config = service.ses
    return SesTransport(
        config.region,
        config.configuration_set,
        sender=config.from_email,
        signer=signer_for(service, supplies.credentials),
    )


def ses_identity(service: Service) -> Hashable:
    """What an SES client was built for: its region, and the configuration set it names."""
    config = service.ses
    return ("ses", config.region, config.configuration_set)
