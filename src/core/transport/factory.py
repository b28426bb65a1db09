"""The transport for a service, as its type says, with its credentials: the one table that
knows which kind of transport serves which type of service.

A kind is two functions: `build` (a closed transport for the service, with its credentials)
and `identity` (what its connection is made with: a kept connection whose identity differs
from the service's now is stale). Adding a transport is one module with its kind, and one
entry per service type in `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from core.oauth2.cache import TokenCache
from core.ports import CredentialSource, Transport
from core.services.model import Service
from core.services.service_type import ServiceType
from core.transport.ses.kind import build_ses, ses_identity
from core.transport.smtp.kind import build_smtp, smtp_identity
from core.transport.supplies import Supplies


@dataclass(frozen=True)
class TransportKind:
    build: Callable[[Service, Supplies], Transport]
    identity: Callable[[Service], Hashable]


SMTP = TransportKind(build=build_smtp, identity=smtp_identity)
SES = TransportKind(build=build_ses, identity=ses_identity)

KINDS: Mapping[ServiceType, TransportKind] = {
    ServiceType.SMTP_EMAIL: SMTP,  # DreamFactory's name for it
    ServiceType.SMTP: SMTP,
    ServiceType.SES: SES,  # Amazon SES's v2 API, as the function's IAM role
}


class Transports:
    """A `TransportFactory`: `transports(service)` gives a closed transport for it."""

    def __init__(
        self,
        credentials: CredentialSource,
        *,
        ehlo_name: str,
        ca_file: str,
        tokens: TokenCache | None = None,
    ) -> None:
        self._supplies = Supplies(credentials, ehlo_name=ehlo_name, ca_file=ca_file, tokens=tokens)

    def __call__(self, service: Service) -> Transport:
        return KINDS[service.type].build(service, self._supplies)

    def identity(self, service: Service) -> Hashable:
        return KINDS[service.type].identity(service)
