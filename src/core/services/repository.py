"""Service definitions in DynamoDB, passwords in Secrets Manager: the only code touching either."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.conditions import Attr
from pydantic import ValidationError

from core.errors import Conflict, InvalidRequest, NotFound
from core.secrets import CredentialStore
from core.services.model import Service, ServiceInput
from core.validation import invalid_request_from

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

# Fields a PATCH may change; `name` and `type` are fixed once created.
_PATCHABLE = frozenset({"label", "description", "config"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ServiceRepository:
    """CRUD for service definitions. Table key: `name` (string)."""

    def __init__(
        self,
        table_name: str,
        credentials: CredentialStore,
        *,
        fallback: Service | None = None,
        table: Table | None = None,
    ) -> None:
        self._table_name = table_name
        self._table = table
        self._credentials = credentials
        # The MAIL_* service from the environment, used when no stored one has its name.
        self._fallback = fallback

    @property
    def table(self) -> Table:
        if self._table is None:
            self._table = boto3.resource("dynamodb").Table(self._table_name)
        return self._table

    # --- reads ----------------------------------------------------------------------------

    def get(self, name: str) -> Service:
        item = self.table.get_item(Key={"name": name}, ConsistentRead=True).get("Item")
        if item is not None:
            return Service.model_validate(item)
        if self._fallback is not None and self._fallback.name == name:
            return self._fallback
        raise NotFound(f"Service '{name}' not found.", reason="service_not_found")

    def list(self) -> list[Service]:
        items: list[dict[str, Any]] = []
        scan_kwargs: dict[str, Any] = {"ConsistentRead": True}
        while True:
            page = self.table.scan(**scan_kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            scan_kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        services = [Service.model_validate(item) for item in items]
        stored_names = {service.name for service in services}
        if self._fallback is not None and self._fallback.name not in stored_names:
            services.append(self._fallback)
        return sorted(services, key=lambda service: service.name)

    # --- writes ---------------------------------------------------------------------------

    def create(self, new: ServiceInput) -> Service:
        now = _now()
        service = Service(
            name=new.name,
            label=new.label,
            description=new.description,
            config=new.config.stored(),
            created_at=now,
            updated_at=now,
        )
        # Claim the name first: a losing concurrent create must never touch the winner's secret.
        try:
            self.table.put_item(
                Item=self._item(service), ConditionExpression=Attr("name").not_exists()
            )
        except self.table.meta.client.exceptions.ConditionalCheckFailedException:
            raise Conflict(
                f"Service '{new.name}' already exists.", reason="service_exists"
            ) from None
        if not new.config.password:
            return service
        try:
            service = self._with_password(service, new.config.password)
            self.table.put_item(Item=self._item(service))
        except Exception:
            # No half-made service: without its password it would fail every send.
            self.table.delete_item(Key={"name": new.name})
            raise
        return service

    def update(self, name: str, patch: dict[str, Any]) -> Service:
        """Apply a PATCH: only the fields given change, down to single keys of `config`."""
        current = self._stored(name)
        unknown = set(patch) - _PATCHABLE - {"name", "type"}
        if unknown or patch.get("name", name) != name or patch.get("type", "smtp") != "smtp":
            raise InvalidRequest(
                "Only 'label', 'description' and 'config' can be changed.",
                context={"fields": sorted(unknown | ({"name", "type"} & set(patch)))},
            )
        config_patch = patch.get("config") or {}
        if not isinstance(config_patch, dict):
            raise InvalidRequest("'config' must be an object.", context={"field": "config"})
        # The merged service is validated as a whole, as a POST would be: a bad value stored
        # here would break every later read of it.
        try:
            merged = ServiceInput.model_validate(
                {
                    "name": name,
                    "label": patch.get("label", current.label),
                    "description": patch.get("description", current.description),
                    "config": {**current.config.model_dump(), **config_patch},
                }
            )
        except ValidationError as error:
            raise invalid_request_from(error) from error
        updated = current.model_copy(
            update={
                "label": merged.label,
                "description": merged.description,
                "config": merged.config.stored(),
                "updated_at": _now(),
            }
        )
        if "password" in config_patch:
            updated = self._with_password(updated, merged.config.password)
        self.table.put_item(Item=self._item(updated))
        return updated

    def delete(self, name: str) -> Service:
        service = self._stored(name)
        self.table.delete_item(Key={"name": name})
        if service.secret_id:
            self._credentials.delete(service.secret_id)
        return service

    # --- internals ------------------------------------------------------------------------

    def _stored(self, name: str) -> Service:
        item = self.table.get_item(Key={"name": name}, ConsistentRead=True).get("Item")
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
