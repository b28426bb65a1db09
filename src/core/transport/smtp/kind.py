"""SMTP as a kind of transport, as the factory's table has it: how a service's SMTP transport
is built (its endpoint, TLS context and password) and what identifies its connection."""

from __future__ import annotations

from collections.abc import Hashable

from core.credentials import ServiceCredentials
from core.network.tls import client_context
from core.oauth2.tokens import TokenRequest
from core.ports import CredentialSource
from core.services.model import Service
from core.services.smtp_options import AuthMethod
from core.transport.signer import signer_for
from core.transport.smtp.authentication import XOAuth2Login
from core.transport.smtp.endpoint import SmtpEndpoint
from core.transport.smtp.transport import SmtpTransport
from core.transport.supplies import Supplies


def smtp_endpoint(service: Service, credentials: CredentialSource) -> SmtpEndpoint:
    """Where and how to reach the service's server; the password only for that host (and
    none for a service that logs in with OAuth2)."""
    config = service.smtp
    password = (
        credentials.password(service.secret_id, service.secret_version)
        if service.secret_id and config.auth is AuthMethod.PASSWORD
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
    """A closed SMTP transport for `service`, with its credentials: its password, or (with
    `auth: oauth2`) an XOAUTH2 login taking its tokens from the process's cache; and its DKIM
    signer, when it signs."""
    return SmtpTransport(
        smtp_endpoint(service, supplies.credentials),
        tls=client_context(service.smtp.verify_tls, supplies.ca_file),
        ehlo_name=supplies.ehlo_name,
        login=xoauth2_login(service, supplies),
        signer=signer_for(service, supplies.credentials),
    )


def xoauth2_login(service: Service, supplies: Supplies) -> XOAuth2Login | None:
    """The XOAUTH2 login of a service with `auth: oauth2`; None for any other (its password,
    if it has a username)."""
    config = service.smtp
    if config.auth is not AuthMethod.OAUTH2 or config.oauth2 is None or not config.username:
        return None
    if supplies.tokens is None:
        raise RuntimeError("the transport factory was given no token cache for OAuth2")
    secrets = (
        supplies.credentials.credentials(service.secret_id, service.secret_version)
        if service.secret_id
        else ServiceCredentials()
    )
    request = TokenRequest(
        config.oauth2,
        client_secret=secrets.oauth2_client_secret,
        refresh_token=secrets.oauth2_refresh_token,
        secret_id=service.secret_id,
        secret_version=service.secret_version,
    )
    return XOAuth2Login(config.username, request, supplies.tokens)


def smtp_identity(service: Service) -> Hashable:
    """What an SMTP connection was opened with: server, encryption, TLS checks, username,
    and how it logged in."""
    config = service.smtp
    return (
        config.host,
        config.port,
        str(config.encryption),
        config.verify_tls,
        config.username,
        str(config.auth),
        config.oauth2,
    )
