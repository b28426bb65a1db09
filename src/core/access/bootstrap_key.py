"""The bootstrap admin key as a key like the others: listed, rotated with overlap, disabled.

Until its first change through the admin API, the key is the value of the admin key secret
(which CloudFormation generated, or the local stack stored). The first change writes an item
`bootstrap` to the keys table holding, as for every key, only hashes; from then on that item
alone decides which secret works, and the secret merely holds the current value for operators
to read. So neither a redeploy that regenerates the secret nor a hand edit of it can bring an
old key back; deleting the item (with AWS credentials) makes the secret's value the key again.
"""

from __future__ import annotations

from typing import Any

from core.access.model import BOOTSTRAP_ROLE, ApiKey, ApiKeyPatch, Rotation
from core.access.rotation import rotated
from core.access.tokens import hash_secret
from core.admin_key import AdminKey, SecretValue
from core.errors import InvalidRequest, NotFound
from core.storage import ItemTable

BOOTSTRAP_KEY_ID = "bootstrap"
BOOTSTRAP_LABEL = "Bootstrap admin key"


class BootstrapKey:
    """The `bootstrap` key: its item in the keys table, or else the admin key secret."""

    def __init__(self, table: ItemTable, secret: AdminKey) -> None:
        self._table = table
        self._secret = secret

    def stored(self) -> ApiKey | None:
        """Its item, once a change wrote one."""
        item = self._table.get(BOOTSTRAP_KEY_ID)
        return None if item is None else ApiKey.model_validate(item)

    def view(self) -> ApiKey | None:
        """As the admin API shows it; None when this stack has no bootstrap key at all."""
        stored = self.stored()
        if stored is not None:
            return stored
        current = self._secret.current()
        return None if current is None else _from_secret(current)

    def works(self) -> bool:
        """Whether some secret of it is accepted now (it exists and is enabled)."""
        stored = self.stored()
        return self._secret.configured if stored is None else stored.enabled

    def secret_matches(self, presented: str) -> bool:
        """Before any change, the secret's value is the key."""
        return self._secret.matches(presented)

    def rotate(self, rotation: Rotation) -> tuple[ApiKey, str]:
        """A new secret, returned once; the old one works `overlap_seconds` more."""
        key, secret = rotated(self._materialized(), rotation.overlap_seconds)
        # The secret first: should the item's write fail, the old key still works (the item
        # decides) and a retry fixes both; the other way round, a key in force could be lost.
        self._secret.replace(secret)
        self._table.put(_item(key))
        return key, secret

    def update(self, patch: ApiKeyPatch) -> ApiKey:
        """Its label, or whether it is enabled; its role is the built-in one for good."""
        if patch.role not in (None, BOOTSTRAP_ROLE):
            raise InvalidRequest(
                f"The bootstrap admin key's role is '{BOOTSTRAP_ROLE}' and cannot change;"
                " create a key with the role you want instead.",
                context={"field": "role"},
            )
        changes = patch.model_dump(exclude_none=True, exclude={"role"})
        updated = self._materialized().model_copy(update=changes)
        self._table.put(_item(updated))
        return updated

    def _materialized(self) -> ApiKey:
        """Its item, written now from the secret if this is the first change."""
        stored = self.stored()
        if stored is not None:
            return stored
        current = self._secret.current()
        if current is None:
            raise NotFound(f"API key '{BOOTSTRAP_KEY_ID}' not found.", reason="api_key_not_found")
        key = _from_secret(current)
        if not self._table.create(_item(key)):  # another change wrote it just now
            return self._materialized()
        return key


def _from_secret(current: SecretValue) -> ApiKey:
    return ApiKey(
        id=BOOTSTRAP_KEY_ID,
        label=BOOTSTRAP_LABEL,
        role=BOOTSTRAP_ROLE,
        secret_hash=hash_secret(current.value),
        created_at=current.stored_at,
    )


def _item(key: ApiKey) -> dict[str, Any]:
    return key.model_dump(mode="json", exclude_none=True)
