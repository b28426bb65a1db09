"""Service definitions in DynamoDB, their secrets (password, OAuth2, DKIM key) in Secrets
Manager: the only code touching either.

The table is keyed by `name`; each service also has DreamFactory's numeric `id`, kept beside it
as `core.numeric_ids` explains (a pointer item per id, an atomic counter). The admin API finds a
service by either (`get`: all ASCII digits are an id); a send, the worker and every other
internal reader find it by name only (`by_name`), and never write. A service stored before ids
existed gets its id the first time the admin API reads or lists it (a conditional write: the
first reader's id is the one it keeps). The MAIL_* service from the environment is never stored
and shows `FALLBACK_SERVICE_ID` (0), which no stored service can have.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.clock import now_iso
from core.credentials import ServiceCredentials
from core.errors import Conflict, InvalidRequest, NotFound
from core.numeric_ids import NumericIds, as_id, is_record, is_record_key
from core.secrets import CredentialStore
from core.services.config import ServiceConfig, SmtpConfig
from core.services.config_input import SmtpConfigInput, credentials_of
from core.services.dkim_patch import merged_dkim, with_dkim_key
from core.services.model import FALLBACK_SERVICE_ID, STORED_NAME, Service, ServiceInput
from core.services.oauth2_patch import credentials_after, merged_config, require_secrets_for
from core.services.service_type import parse_service_type
from core.services.smtp_options import AuthMethod, Encryption
from core.storage import ItemTable
from core.validation import invalid_request_from

# Fields a PATCH may change. `id`, `name` and `type` are fixed once created; a PATCH may repeat
# them unchanged (DreamFactory clients send back the record they read).
_PATCHABLE = ("label", "description", "is_active", "config")
_FIXED = ("id", "name", "type")

# How well each setting guards the password on the wire: plain text, STARTTLS when the server
# offers it, TLS required (STARTTLS or implicit, which protect it alike).
_ENCRYPTION_RANK = {
    Encryption.NONE: 0,
    Encryption.OPPORTUNISTIC: 1,
    Encryption.TLS: 2,
    Encryption.SSL: 2,
}


class ServiceRepository:
    """CRUD for service definitions, found by numeric id or by name. Table key: `name`."""

    def __init__(
        self, table: ItemTable, credentials: CredentialStore, *, fallback: Service | None = None
    ) -> None:
        self._table = table
        self._ids = NumericIds(table)
        self._credentials = credentials
        # The MAIL_* service from the environment, used when no stored one has its name.
        self._fallback = (
            None if fallback is None else fallback.model_copy(update={"id": FALLBACK_SERVICE_ID})
        )

    # --- reads ----------------------------------------------------------------------------

    def get(self, id_or_name: str | int) -> Service:
        """By id (an int, or a string of ASCII digits) or by name, with its id."""
        try:
            return self._stored(id_or_name)
        except NotFound:
            fallback = self._fallback
            if fallback is None:
                raise
            # By its name once no stored one has it; by its id, as long as that stays so.
            if id_or_name == fallback.name or (
                as_id(id_or_name) == FALLBACK_SERVICE_ID and self._table.get(fallback.name) is None
            ):
                return fallback
            raise

    def by_name(self, name: str) -> Service:
        """By name only, read only: a service stored before ids may come without one."""
        item = self._table.get(name) if is_record_key(name) else None
        if item is not None:
            return Service.model_validate(item)
        if self._fallback is not None and self._fallback.name == name:
            return self._fallback
        raise NotFound(f"Service '{name}' not found.", reason="service_not_found")

    def list(self) -> list[Service]:
        items = [item for item in self._table.scan() if is_record(item, self._table.key)]
        services = [Service.model_validate(item) for item in self._ids.numbered(items)]
        stored_names = {service.name for service in services}
        if self._fallback is not None and self._fallback.name not in stored_names:
            services.append(self._fallback)
        return sorted(services, key=lambda service: service.name)

    # --- writes ---------------------------------------------------------------------------

    def create(self, new: ServiceInput, *, keep_id: bool = False) -> Service:
        """Store a new service with the next id, or with its own `id` when `keep_id` (409
        `service_id_taken` when another service has it)."""
        service_id, claimed = self._ids.for_new(new.name, new.id if keep_id else None, "service")
        now = now_iso()
        service = Service(
            id=service_id,
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
            if claimed:
                self._ids.release(service_id)  # claimed just now: the existing one has another
            raise Conflict(f"Service '{new.name}' already exists.", reason="service_exists")
        credentials = credentials_of(new.config)
        if credentials.empty:
            return service
        try:
            service = self._with_credentials(service, credentials)
            self._table.put(self._item(service))
        except Exception:
            # No half-made service: without its secrets it would fail every send.
            self._table.delete(new.name)
            self._ids.release(service_id)
            raise
        return service

    def update(self, id_or_name: str | int, patch: dict[str, Any]) -> Service:
        """Apply a PATCH: only the fields given change, down to single keys of `config`."""
        current = self._stored(id_or_name)
        _check_patch_fields(current, patch)
        # Null changes nothing; `false`, a list or text is no config.
        config_patch = {} if patch.get("config") is None else patch["config"]
        if not isinstance(config_patch, dict):
            raise InvalidRequest("'config' must be an object.", context={"field": "config"})
        # The merged service is validated as a whole, as a POST would be: a bad value stored
        # here would break every later read of it. A null takes the field's default, as in
        # a create. Stored OAuth2 secrets stand in for those the PATCH leaves out.
        stored = self._stored_credentials(current, config_patch)
        config = {**current.config.model_dump(), **config_patch}
        if isinstance(current.config, SmtpConfig):
            config = merged_config(current.config, config_patch, stored)
        config["dkim"] = merged_dkim(current.config.dkim, config_patch, stored)
        try:
            merged = ServiceInput.model_validate(
                {
                    "name": current.name,
                    "type": current.type,
                    "label": patch.get("label", current.label),
                    "description": patch.get("description", current.description),
                    "is_active": patch.get("is_active", current.is_active),
                    "config": config,
                },
                context={STORED_NAME: True},
            )
        except ValidationError as error:
            raise invalid_request_from(error) from error
        oauth2 = isinstance(merged.config, SmtpConfig) and merged.config.auth is AuthMethod.OAUTH2
        if stored.logs_in and "password" not in config_patch:
            changes = _exposing_changes(current.config, merged.config)
            if oauth2:
                require_secrets_for(changes, config_patch)
            else:
                _require_password_for(changes)
        updated = current.model_copy(
            update={
                "label": merged.label,
                "description": merged.description,
                "is_active": merged.is_active,
                "config": merged.config.stored(),
                "updated_at": now_iso(),
            }
        )
        credentials = (
            credentials_after(stored, merged.config, config_patch)
            if isinstance(merged.config, SmtpConfigInput)
            else stored
        )
        credentials = with_dkim_key(credentials, merged.config)
        if credentials != stored:
            updated = self._with_credentials(updated, credentials)
        self._table.put(self._item(updated))
        return updated

    def delete(self, id_or_name: str | int) -> Service:
        service = self._stored(id_or_name)
        self._table.delete(service.name)
        if service.id is not None:  # after the service: its pointer never outlives it unseen
            self._ids.release(service.id)
        if service.secret_id:
            self._credentials.delete(service.secret_id)
        return service

    # --- internals ------------------------------------------------------------------------

    def _stored(self, id_or_name: str | int) -> Service:
        """A stored service by id or name, with its id (given now if it had none)."""
        service_id = as_id(id_or_name)
        if service_id is not None:
            item = self._ids.find(service_id)
            if item is None:
                raise self._not_found(service_id)
            return Service.model_validate(item)
        name = str(id_or_name)
        item = self._table.get(name) if is_record_key(name) else None
        numbered = [] if item is None else self._ids.numbered([item])
        if not numbered:
            raise self._not_found(str(id_or_name))
        return Service.model_validate(numbered[0])

    def _not_found(self, id_or_name: str | int) -> NotFound:
        # DreamFactory's words for an id (df-core src/Models/BaseModel.php, line 503).
        what = (
            f"Record with identifier '{id_or_name}'"
            if isinstance(id_or_name, int)
            else f"Service '{id_or_name}'"
        )
        fallback = self._fallback
        hint = (
            " (it is defined by MAIL_* settings and is read-only)"
            if fallback is not None and id_or_name in (fallback.name, fallback.id)
            else ""
        )
        return NotFound(f"{what} not found{hint}.", reason="service_not_found")

    def _stored_credentials(self, current: Service, patch: dict[str, Any]) -> ServiceCredentials:
        """The service's secret as stored (read only when a PATCH may need it: to keep its
        OAuth2 secrets, or to rewrite it)."""
        if not current.secret_id:
            return ServiceCredentials()
        return self._credentials.credentials(current.secret_id, current.secret_version)

    def _with_credentials(self, service: Service, credentials: ServiceCredentials) -> Service:
        if not credentials.empty:
            secret_id, version = self._credentials.put_credentials(service.name, credentials)
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
    if patch.get("id") not in (None, current.id):
        changed.append("id")
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
