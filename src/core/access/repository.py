"""Roles and API keys in DynamoDB."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from core.access.bootstrap_key import BOOTSTRAP_KEY_ID, BootstrapKey
from core.access.model import BOOTSTRAP_ROLE, ApiKey, ApiKeyInput, ApiKeyPatch, Role, Rotation
from core.access.rotation import rotated
from core.access.tokens import hash_secret, new_key_id, new_secret, token_for
from core.clock import now_iso
from core.errors import Conflict, InvalidRequest, NotFound
from core.numeric_ids import NumericIds, as_id, is_record, is_record_key
from core.storage import ItemTable
from core.validation import invalid_request_from


class RoleRepository:
    """CRUD for roles, found by numeric id or by name. Table key: `name`.

    Ids as services have them (core.numeric_ids, core.services.repository): `get` takes an id
    (all ASCII digits) or a name and numbers a role stored before ids; `by_name` (a key's
    check, every request) and `exists` read by name only, and never write.
    """

    def __init__(self, table: ItemTable) -> None:
        self._table = table
        self._ids = NumericIds(table)

    def get(self, id_or_name: str | int) -> Role:
        """By id (an int, or a string of ASCII digits) or by name, with its id."""
        role_id = as_id(id_or_name)
        if role_id is not None:
            item = self._ids.find(role_id)
            if item is None:
                # DreamFactory's words for an id (df-core src/Models/BaseModel.php, line 503).
                raise NotFound(
                    f"Record with identifier '{role_id}' not found.", reason="role_not_found"
                )
            return Role.model_validate(item)
        name = str(id_or_name)
        item = self._table.get(name) if is_record_key(name) else None
        numbered = [] if item is None else self._ids.numbered([item])
        if not numbered:
            raise NotFound(f"Role '{name}' not found.", reason="role_not_found")
        return Role.model_validate(numbered[0])

    def by_name(self, name: str) -> Role:
        """By name only, read only: a role stored before ids may come without one."""
        item = self._table.get(name) if is_record_key(name) else None
        if item is None:
            raise NotFound(f"Role '{name}' not found.", reason="role_not_found")
        return Role.model_validate(item)

    def exists(self, name: str) -> bool:
        return is_record_key(name) and self._table.get(name) is not None

    def list(self) -> list[Role]:
        items = [item for item in self._table.scan() if is_record(item, self._table.key)]
        return sorted(
            (Role.model_validate(item) for item in self._ids.numbered(items)),
            key=lambda r: r.name,
        )

    def create(self, role: Role, *, keep_id: bool = False) -> Role:
        """Store a new role with the next id, or with its own `id` when `keep_id` (409
        `role_id_taken` when another role has it)."""
        role_id, claimed = self._ids.for_new(role.name, role.id if keep_id else None, "role")
        now = now_iso()
        stored = Role.model_validate(
            {**role.model_dump(), "id": role_id, "created_at": now, "updated_at": now}
        )
        if not self._table.create(stored.model_dump(mode="json", exclude_none=True)):
            if claimed:
                self._ids.release(role_id)  # claimed just now: the existing one has another
            raise Conflict(f"Role '{role.name}' already exists.", reason="role_exists")
        return stored

    def update(self, id_or_name: str | int, patch: dict[str, Any]) -> Role:
        """Apply a PATCH: the fields given replace the stored ones (lists as a whole)."""
        current = self.get(id_or_name)
        if patch.get("name", current.name) != current.name:
            raise InvalidRequest("A role cannot be renamed.", context={"field": "name"})
        if patch.get("id") not in (None, current.id):
            raise InvalidRequest("A role's id cannot be changed.", context={"field": "id"})
        try:
            # Dates sent back as fetched are checked as text, and kept as they were: the
            # caller's `updated_at` replaced ours only after validation, so anything passed.
            updated = Role.model_validate(
                {**current.model_dump(), **patch, "id": current.id, "name": current.name}
            )
        except ValidationError as error:
            raise invalid_request_from(error) from error
        updated = updated.model_copy(
            update={"created_at": current.created_at, "updated_at": now_iso()}
        )
        self._table.put(updated.model_dump(mode="json", exclude_none=True))
        return updated

    def delete(self, id_or_name: str | int) -> Role:
        role = self.get(id_or_name)
        self._table.delete(role.name)
        if role.id is not None:  # after the role: its pointer never outlives it unseen
            self._ids.release(role.id)
        return role


class ApiKeyRepository:
    """API keys. Table key: `id`. The full key exists only in the answer that creates it.

    With `bootstrap`, the bootstrap admin key is one of them (core.access.bootstrap_key): listed,
    found, changed and rotated here, never deleted; and no change leaves the stack without an
    enabled admin key, so nobody locks themselves out.
    """

    def __init__(
        self, table: ItemTable, roles: RoleRepository, bootstrap: BootstrapKey | None = None
    ) -> None:
        self._table = table
        self._roles = roles
        self._bootstrap = bootstrap

    def get(self, key_id: str) -> ApiKey:
        if key_id == BOOTSTRAP_KEY_ID and self._bootstrap is not None:
            key = self._bootstrap.view()
            if key is not None:
                return key
        item = self._table.get(key_id)
        if item is None:
            raise NotFound(f"API key '{key_id}' not found.", reason="api_key_not_found")
        return ApiKey.model_validate(item)

    def find(self, key_id: str) -> ApiKey | None:
        item = self._table.get(key_id)
        return None if item is None else ApiKey.model_validate(item)

    def list(self) -> list[ApiKey]:
        keys = [ApiKey.model_validate(item) for item in self._table.scan()]
        if self._bootstrap is not None and all(key.id != BOOTSTRAP_KEY_ID for key in keys):
            unchanged = self._bootstrap.view()  # not stored before its first change
            keys += [] if unchanged is None else [unchanged]
        return sorted(keys, key=lambda key: key.created_at)

    def create(self, new: ApiKeyInput) -> tuple[ApiKey, str]:
        """A new key and its token, which is shown once and never stored."""
        self._require_role(new.role)
        secret = new_secret()
        key = ApiKey(
            id=new_key_id(),
            label=new.label,
            role=new.role,
            secret_hash=hash_secret(secret),
            created_at=now_iso(),
        )
        if not self._table.create(self._item(key)):  # 64 random bits: a clash is a bug
            raise Conflict("Key id clash; try again.", reason="api_key_exists")
        return key, token_for(key.id, secret)

    def update(self, key_id: str, patch: ApiKeyPatch) -> ApiKey:
        key = self.get(key_id)
        if self._bootstrap is not None and key.id == BOOTSTRAP_KEY_ID:
            if patch.enabled is False and key.enabled:
                self._keep_an_admin_key(key.id)
            return self._bootstrap.update(patch)
        changes = patch.model_dump(exclude_none=True)
        if "role" in changes:
            self._require_role(changes["role"])
        updated = key.model_copy(update=changes)
        if self._is_working_admin(key) and not self._is_working_admin(updated):
            self._keep_an_admin_key(key.id)
        self._table.put(self._item(updated))
        return updated

    def rotate(self, key_id: str, rotation: Rotation) -> tuple[ApiKey, str]:
        """A new secret for the same id and role; the old one works for `overlap_seconds`."""
        key = self.get(key_id)
        if self._bootstrap is not None and key.id == BOOTSTRAP_KEY_ID:
            return self._bootstrap.rotate(rotation)  # its key is the secret alone, no id
        key, secret = rotated(key, rotation.overlap_seconds)
        self._table.put(self._item(key))
        return key, token_for(key.id, secret)

    def delete(self, key_id: str) -> None:
        key = self.get(key_id)
        if self._bootstrap is not None and key.id == BOOTSTRAP_KEY_ID:
            # Its item gone, the admin key secret's value would be the key again.
            raise Conflict(
                "The bootstrap admin key cannot be deleted: disable it (enabled: false) once"
                " another admin key works, or rotate it.",
                reason="bootstrap_key_permanent",
            )
        if self._is_working_admin(key):
            self._keep_an_admin_key(key.id)
        self._table.delete(key_id)

    def touch(self, key: ApiKey) -> None:
        """Record a use: only `last_used_at`, so a concurrent admin change is never undone."""
        self._table.set_fields(key.id, {"last_used_at": now_iso()})

    def _keep_an_admin_key(self, leaving: str) -> None:
        """409 unless an enabled admin key other than `leaving` remains."""
        if leaving != BOOTSTRAP_KEY_ID and self._bootstrap is not None and self._bootstrap.works():
            return  # the usual case, without reading every key
        if any(key.id != leaving and self._is_working_admin(key) for key in self.list()):
            return
        raise Conflict(
            f"API key '{leaving}' is the last enabled admin key: create another admin key"
            " before disabling, revoking or demoting it, so the admin API stays reachable.",
            reason="last_admin_key",
            context={"api_key": leaving},
        )

    def _is_working_admin(self, key: ApiKey) -> bool:
        if not key.enabled:
            return False
        if key.id == BOOTSTRAP_KEY_ID and key.role == BOOTSTRAP_ROLE:
            return True
        try:
            return self._roles.by_name(key.role).admin
        except NotFound:
            return False

    def _require_role(self, name: str) -> None:
        if not self._roles.exists(name):
            raise InvalidRequest(
                f"Role '{name}' does not exist; create it first.",
                reason="role_not_found",
                context={"field": "role"},
            )

    @staticmethod
    def _item(key: ApiKey) -> dict[str, Any]:
        return key.model_dump(mode="json", exclude_none=True)


def delete_unused_role(
    roles: RoleRepository, keys: ApiKeyRepository, id_or_name: str | int
) -> Role:
    """A role goes only when no key uses it: re-creating its name must not revive old keys."""
    name = roles.get(id_or_name).name
    users = sorted(key.id for key in keys.list() if key.role == name)
    if users:
        raise Conflict(
            f"Role '{name}' is used by {len(users)} API key(s); revoke them or move them to"
            " another role first.",
            reason="role_in_use",
            context={"api_keys": users},
        )
    return roles.delete(name)
