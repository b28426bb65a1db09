"""Service definitions in DynamoDB, passwords in Secrets Manager: the only code touching either."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.clock import now_iso
from core.errors import Conflict, InvalidRequest, NotFound
from core.secrets import CredentialStore
from core.services.model import (
    Encryption,
    Service,
    ServiceConfig,
    ServiceInput,
    SmtpConfig,
    parse_service_type,
    password_of,
)
from core.storage import ItemTable
from core.validation import invalid_request_from

# Fields a PATCH may change. `name` and `type` are fixed once created; a PATCH may repeat
# them unchanged (DreamFactory clients send back the record they read).
_PATCHABLE = ("label", "description", "is_active", "config")
_FIXED = ("name", "type")

# How well each setting guards the password on the wire: plain text, STARTTLS when the server
# offers it, TLS required (STARTTLS or implicit, which protect it alike).
_ENCRYPTION_RANK = {
    Encryption.NONE: 0,
    Encryption.OPPORTUNISTIC: 1,
    Encryption.TLS: 2,
    Encryption.SSL: 2,
}


class ServiceRepository:
    """CRUD for service definitions. Table key: `name` (string)."""

    def __init__(
        self, table: ItemTable, credentials: CredentialStore, *, fallback: Service | None = None
    ) -> None:
        self._table = table
        self._credentials = credentials
        # The MAIL_* service from the environment, used when no stored one has its name.
        self._fallback = fallback

    # --- reads ----------------------------------------------------------------------------

    def get(self, name: str) -> Service:
        item = self._table.get(name)
        if item is not None:
            return Service.model_validate(item)
        if self._fallback is not None and self._fallback.name == name:
            return self._fallback
        raise NotFound(f"Service '{name}' not found.", reason="service_not_found")

    def list(self) -> list[Service]:
        services = [Service.model_validate(item) for item in self._table.scan()]
        stored_names = {service.name for service in services}
        if self._fallback is not None and self._fallback.name not in stored_names:
            services.append(self._fallback)
        return sorted(services, key=lambda service: service.name)

    # --- writes ---------------------------------------------------------------------------

    def create(self, new: ServiceInput) -> Service:
        now = now_iso()
        service = Service(
            name=new.name,
            label=new.label,
            description=new.description,
            type=new.type,
            is_active=new.is_active,
            config=new.config.stored(),
            created_at=now,
            updated_at=now,
        )
        # Claim the name first: a losing concurrent create must never touch the winner's secret.
        if not self._table.create(self._item(service)):
            raise Conflict(f"Service '{new.name}' already exists.", reason="service_exists")
        password = password_of(new.config)
        if not password:
            return service
        try:
            service = self._with_password(service, password)
            self._table.put(self._item(service))
        except Exception:
            # No half-made service: without its password it would fail every send.
            self._table.delete(new.name)
            raise
        return service

    def update(self, name: str, patch: dict[str, Any]) -> Service:
        """Apply a PATCH: only the fields given change, down to single keys of `config`."""
        current = self._stored(name)
        _check_patch_fields(current, patch)
        # Null changes nothing; `false`, a list or text is no config.
        config_patch = {} if patch.get("config") is None else patch["config"]
        if not isinstance(config_patch, dict):
            raise InvalidRequest("'config' must be an object.", context={"field": "config"})
        # The merged service is validated as a whole, as a POST would be: a bad value stored
        # here would break every later read of it. A null takes the field's default, as in
        # a create.
        try:
            merged = ServiceInput.model_validate(
                {
                    "name": name,
                    "type": current.type,
                    "label": patch.get("label", current.label),
                    "description": patch.get("description", current.description),
                    "is_active": patch.get("is_active", current.is_active),
                    "config": {**current.config.model_dump(), **config_patch},
                }
            )
        except ValidationError as error:
            raise invalid_request_from(error) from error
        if current.secret_id and "password" not in config_patch:
            _require_password_for(_exposing_changes(current.config, merged.config))
        updated = current.model_copy(
            update={
                "label": merged.label,
                "description": merged.description,
                "is_active": merged.is_active,
                "config": merged.config.stored(),
                "updated_at": now_iso(),
            }
        )
        if "password" in config_patch:
            updated = self._with_password(updated, password_of(merged.config))
        self._table.put(self._item(updated))
        return updated

    def delete(self, name: str) -> Service:
        service = self._stored(name)
        self._table.delete(name)
        if service.secret_id:
            self._credentials.delete(service.secret_id)
        return service

    # --- internals ------------------------------------------------------------------------

    def _stored(self, name: str) -> Service:
        item = self._table.get(name)
        if item is None:
            hint = (
                " (it is defined by MAIL_* settings and is read-only)"
                if (self._fallback is not None and self._fallback.name == name)
                else ""
            )
            raise NotFound(f"Service '{name}' not found{hint}.", reason="service_not_found")
        return Service.model_validate(item)

    def _with_password(self, service: Service, password: str | None) -> Service:
        if password:
            secret_id, version = self._credentials.put_password(service.name, password)
            return service.model_copy(update={"secret_id": secret_id, "secret_version": version})
        if service.secret_id:
            self._credentials.delete(service.secret_id)
        return service.model_copy(update={"secret_id": None, "secret_version": None})

    @staticmethod
    def _item(service: Service) -> dict[str, Any]:
        return service.model_dump(mode="json", exclude_none=True)


def _check_patch_fields(current: Service, patch: dict[str, Any]) -> None:
    """400 for a field a PATCH may not name, or a fixed one it would change."""
    unknown = sorted(set(patch) - set(_PATCHABLE) - set(_FIXED))
    if unknown:
        raise InvalidRequest(
            f"Unknown field(s) {_quoted(unknown)}: a PATCH may change {_quoted(_PATCHABLE)}.",
            context={"fields": unknown},
        )
    changed = []
    # Null, or the stored value, changes nothing; an unknown type is refused as in a create.
    if patch.get("name") not in (None, current.name):
        changed.append("name")
    given_type = patch.get("type")
    if given_type is not None and parse_service_type(given_type) != current.type:
        changed.append("type")
    if changed:
        raise InvalidRequest(
            f"{_quoted(changed)} cannot be changed once a service is created: create another"
            " service instead.",
            context={"fields": changed},
        )


def _quoted(fields: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"'{field}'" for field in fields)


def _exposing_changes(current: ServiceConfig, new: ServiceConfig) -> list[str]:
    """The changes that would send the stored password elsewhere, or less protected: another
    server or account, weaker encryption, or an unverified certificate. (Only an SMTP service
    has a password; a PATCH never changes a service's type.)"""
    if not (isinstance(current, SmtpConfig) and isinstance(new, SmtpConfig)):
        return []
    changes = []
    if new.host.lower() != current.host.lower():
        changes.append("host")
    if new.port != current.port:
        changes.append("port")
    if new.username != current.username:
        changes.append("username")
    if _ENCRYPTION_RANK[new.encryption] < _ENCRYPTION_RANK[current.encryption]:
        changes.append("encryption")
    if current.verify_tls and not new.verify_tls:
        changes.append("verify_tls")
    return changes


def _require_password_for(changes: list[str]) -> None:
    """Whoever moves the stored password must know it: an admin key alone must not be enough
    to have it sent to a server of the caller's choosing."""
    if changes:
        raise InvalidRequest(
            f"Changing {', '.join(changes)} of a service with a stored password needs the"
            " password too: include 'config.password' in the same request (or"
            ' "password": null to drop the stored one).',
            reason="password_required",
            context={"field": "config.password", "changed": changes},
        )
