"""DreamFactory's MAIL_* settings as a read-only service, for deployments with no admin step."""

from __future__ import annotations

from core.network.destination import DestinationForbidden, DestinationPolicy, check_destination
from core.services.config import SmtpConfig
from core.services.config_input import forbidden_destination
from core.services.model import Service
from core.settings import Settings


def service_from_settings(settings: Settings) -> Service | None:
    """The service MAIL_SERVICE_NAME names, or None when MAIL_* settings are not in use.

    The password is never an environment variable here: MAIL_PASSWORD_SECRET_ID names the
    Secrets Manager secret that holds it. The host and port pass the same destination check
    as a service created through the API (`destination_forbidden`, naming the setting).
    """
    if not (settings.mail_service_name and settings.mail_host):
        return None
    config = SmtpConfig.model_validate(
        {
            "host": settings.mail_host,
            "port": settings.mail_port,
            "encryption": settings.mail_encryption,
            "verify_tls": settings.mail_verify_tls,
            "username": settings.mail_username or None,
            "from_name": settings.mail_from_name or None,
            "from_email": settings.mail_from_address or None,
        }
    )
    try:
        check_destination(config.host, config.port, DestinationPolicy.from_settings(settings))
    except DestinationForbidden as error:
        raise forbidden_destination(error, f"MAIL_{error.field.upper()}") from None
    return Service(
        name=settings.mail_service_name,
        label="Defined by MAIL_* settings",
        config=config,
        secret_id=settings.mail_password_secret_id or None,
    )
