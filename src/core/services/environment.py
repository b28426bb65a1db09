"""DreamFactory's MAIL_* settings as a read-only service, for deployments with no admin step."""

from __future__ import annotations

from core.services.model import Service, ServiceConfig
from core.settings import Settings


def service_from_settings(settings: Settings) -> Service | None:
    """The service MAIL_SERVICE_NAME names, or None when MAIL_* settings are not in use.

    The password is never an environment variable here: MAIL_PASSWORD_SECRET_ID names the
    Secrets Manager secret that holds it.
    """
    if not (settings.mail_service_name and settings.mail_host):
        return None
    return Service(
        name=settings.mail_service_name,
        label="Defined by MAIL_* settings",
        config=ServiceConfig.model_validate(
            {
                "host": settings.mail_host,
                "port": settings.mail_port,
                "encryption": settings.mail_encryption,
                "verify_tls": settings.mail_verify_tls,
                "username": settings.mail_username or None,
                "from_name": settings.mail_from_name or None,
                "from_email": settings.mail_from_address or None,
            }
        ),
        secret_id=settings.mail_password_secret_id or None,
    )
