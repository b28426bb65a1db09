"""The DKIM signer a service's transport signs with: built from the service's `config.dkim`
and the key in its secret, with the fields its provider rewrites left unsigned."""

from __future__ import annotations

from core.dkim.keys import UnusableKey, parse_key
from core.dkim.signing import SES_REWRITTEN_FIELDS, DkimSigningFailed, MessageSigner
from core.ports import CredentialSource
from core.services.config import SmtpConfig
from core.services.model import Service
from core.services.service_type import ServiceType


def signer_for(service: Service, credentials: CredentialSource) -> MessageSigner | None:
    """The service's signer; None when it does not sign. `DkimSigningFailed` when it should
    but its secret holds no usable key (edited by hand): its mail must not go unsigned."""
    settings = service.config.dkim
    if settings is None:
        return None
    stored = (
        credentials.credentials(service.secret_id, service.secret_version)
        if service.secret_id
        else None
    )
    if stored is None or stored.dkim_private_key is None:
        raise DkimSigningFailed(f"Service '{service.name}' signs with DKIM, but has no key stored.")
    try:
        key = parse_key(stored.dkim_private_key)
    except UnusableKey:
        raise DkimSigningFailed(
            f"Service '{service.name}' signs with DKIM, but its stored key is unusable."
        ) from None
    unsigned = SES_REWRITTEN_FIELDS if through_ses(service) else frozenset()
    return MessageSigner(settings, key, unsigned=unsigned)


def through_ses(service: Service) -> bool:
    """Whether Amazon SES carries the service's mail (its API, or one of its SMTP endpoints,
    `email-smtp.<region>.amazonaws.com`), and so rewrites Date and Message-ID."""
    if service.type is ServiceType.SES:
        return True
    config = service.config
    return (
        isinstance(config, SmtpConfig)
        and config.host.startswith("email-smtp")
        and config.host.rstrip(".").endswith(".amazonaws.com")
    )
