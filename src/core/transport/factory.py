"""The transport for a service, as its type says, with its credentials: the one place that
knows which transport class serves which kind of service."""

from __future__ import annotations

from core.network.tls import client_context
from core.ports import CredentialSource, Transport
from core.services.model import Service
from core.transport.smtp import SmtpEndpoint, SmtpTransport


class Transports:
    """A `TransportFactory`: `transports(service)` gives a closed transport for it."""

    def __init__(self, credentials: CredentialSource, *, ehlo_name: str, ca_file: str) -> None:
        self._credentials = credentials
        self._ehlo_name = ehlo_name
        self._ca_file = ca_file

    def __call__(self, service: Service) -> Transport:
        # Every service is SMTP today (`type: smtp`); an SES API transport joins here.
        return SmtpTransport(
            self.smtp_endpoint(service),
            tls=client_context(service.config.verify_tls, self._ca_file),
            ehlo_name=self._ehlo_name,
        )

    def smtp_endpoint(self, service: Service) -> SmtpEndpoint:
        """Where and how to reach the service's server; the password only for that host."""
        config = service.config
        password = (
            self._credentials.password(service.secret_id, service.secret_version)
            if service.secret_id
            else None
        )
        return SmtpEndpoint(
            host=config.host,
            port=config.port,
            encryption=config.encryption,
            verify_tls=config.verify_tls,
            username=config.username,
            password=password,
        )
