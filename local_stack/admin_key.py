"""The bootstrap admin key at a restart, as the admin API may have left it.

The admin API rotates the key by writing the keys table's `bootstrap` item (hashes only) and
the new value into the admin key secret (core.access.bootstrap_key): so the secret kept by an
earlier run is the key in force, and the banner shows it. BOOTSTRAP_ADMIN_KEY stays the
developer's choice: when the admin API changed the key since, the item goes, and the secret's
value (the key given) is the key again, enabled, as deleting the item does on AWS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import boto3

from local_stack.environment import table_names

BOOTSTRAP_KEY_ID = "bootstrap"


@dataclass(frozen=True)
class AdminKeyInForce:
    key: str
    # When the admin API last rotated it ("" if never).
    rotated_at: str = ""
    # Disabled through the admin API: the stack's own admin calls cannot be made with it.
    disabled: bool = False
    # BOOTSTRAP_ADMIN_KEY replaced a key the admin API had rotated or disabled.
    replaced: bool = False


def admin_key_in_force(stored: str, *, given: bool) -> AdminKeyInForce:
    """The key now that the secret holds `stored` (`local_stack.resources.store_admin_key`);
    `given`: it came from BOOTSTRAP_ADMIN_KEY."""
    table = boto3.resource("dynamodb").Table(table_names()["ApiKeysTable"])
    item = table.get_item(Key={"id": BOOTSTRAP_KEY_ID}, ConsistentRead=True).get("Item")
    if item is None:
        return AdminKeyInForce(stored)
    enabled = item.get("enabled", True) is not False
    # As core.access.tokens.hash_secret: the bootstrap key's secret is the whole key.
    is_the_key = item.get("secret_hash") == hashlib.sha256(stored.encode()).hexdigest()
    if given and not (is_the_key and enabled):
        table.delete_item(Key={"id": BOOTSTRAP_KEY_ID})
        return AdminKeyInForce(stored, replaced=True)
    return AdminKeyInForce(
        stored, rotated_at=str(item.get("rotated_at") or ""), disabled=not enabled
    )
