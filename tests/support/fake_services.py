"""In-memory stand-ins for the service repository and the credential store (unit tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.credentials import ServiceCredentials
from core.errors import NotFound
from core.ports import CredentialSource, ServiceStore
from core.services.config import SmtpConfig
from core.services.model import Service


def smtp_service(name: str = "email", *, secret_id: str | None = None, **config: object) -> Service:
    """A stored service as the repository would return it; `config` overrides the defaults."""
    defaults: dict[str, object] = {
        "host": "smtp.example.com",
        "port": 587,
        "encryption": "tls",
        "from_email": "noreply@example.com",
    }
    return Service(
        name=name,
        config=SmtpConfig.model_validate({**defaults, **config}),
        secret_id=secret_id,
        secret_version="v1" if secret_id else None,
    )


@dataclass
class FakeServiceRepository:
    """Services by name; `lookups` lists every `by_name`, in order (each a read of the table)."""

    services: dict[str, Service] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def add(self, service: Service) -> Service:
        self.services[service.name] = service
        return service

    def remove(self, name: str) -> None:
        del self.services[name]

    def by_name(self, name: str) -> Service:
        self.lookups.append(name)
        try:
            return self.services[name]
        except KeyError:
            raise NotFound(f"Service '{name}' not found.", reason="service_not_found") from None


@dataclass
class FakeCredentials:
    """Passwords by secret id; records each lookup (secret id, version)."""

    passwords: dict[str, str] = field(default_factory=dict)
    lookups: list[tuple[str, str | None]] = field(default_factory=list)

    def password(self, secret_id: str, version: str | None) -> str | None:
        self.lookups.append((secret_id, version))
        return self.passwords.get(secret_id)

    def credentials(self, secret_id: str, version: str | None) -> ServiceCredentials:
        return ServiceCredentials(password=self.password(secret_id, version))


_services: ServiceStore = FakeServiceRepository()
_credentials: CredentialSource = FakeCredentials()
