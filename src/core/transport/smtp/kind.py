"""SMTP as a kind of transport, as the factory's table has it: how a service's SMTP transport
is built (its endpoint, TLS context and password) and what identifies its connection."""

from __future__ import annotations

from collections.abc import Hashable

from core.network.tls import client_context
from core.ports import CredentialSource
from core.services.model import Service
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.transport import SmtpTransport
from core.transport.supplies import Supplies


def smtp_endpoint(service: Service, credentials: CredentialSource) -> SmtpEndpoint:
    """Where and how to reach the service's server; the password only for that host."""
    config = service.smtp
    password = (
        credentials.password(service.secret_id, service.secret_version)
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


def build_smtp(service: Service, supplies: Supplies) -> SmtpTransport:
    """A closed SMTP transport for `service`, with its credentials."""
    return SmtpTransport(
        smtp_endpoint(service, supplies.credentials),
        tls=client_context(service.smtp.verify_tls, supplies.ca_file),
        ehlo_name=supplies.ehlo_name,
    )


def smtp_identity(service: Service) -> Hashable:
    """What an SMTP connection was opened with: server, encryption, TLS checks, username."""
    config = service.smtp
    return (config.host, config.port, str(config.encryption), config.verify_tls, config.username)
