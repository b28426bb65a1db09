"""The local stack's bootstrap admin key across restarts, after the admin API changed it: a
rotated key is kept and shown; BOOTSTRAP_ADMIN_KEY still chooses the key (the developer's word
wins over the admin API's change); a disabled key is said so."""

from __future__ import annotations

import boto3
import pytest

from local_stack.admin_key import AdminKeyInForce, admin_key_in_force
from local_stack.resources import store_admin_key
from tests.conftest import TABLE_NAMES
from tests.support.access import create_key, create_role
from tests.support.api import ADMIN_KEY, call_api

pytestmark = pytest.mark.usefixtures("aws")

BOOTSTRAP = "/api/v2/system/api_key/bootstrap"


def _restart(given: str | None) -> AdminKeyInForce:
    """What `make dev` does with the key before anything calls the API."""
    stored = store_admin_key(given or "a-newly-generated-key", keep_existing=given is None)
    return admin_key_in_force(stored, given=given is not None)


def _item_exists() -> bool:
    table = boto3.resource("dynamodb").Table(TABLE_NAMES["ApiKeysTable"])
    return "Item" in table.get_item(Key={"id": "bootstrap"})


def _works(key: str) -> bool:
    return call_api("GET", "/api/v2/system/role", api_key=key).status == 200


def test_an_unchanged_key_is_the_secret_s() -> None:
    assert _restart(None) == AdminKeyInForce(ADMIN_KEY)
    assert _restart(ADMIN_KEY) == AdminKeyInForce(ADMIN_KEY)


def test_a_rotated_key_is_kept_and_said_so() -> None:
    rotated = call_api("POST", f"{BOOTSTRAP}/rotate").body

    in_force = _restart(None)

    assert in_force == AdminKeyInForce(rotated["key"], rotated_at=rotated["rotated_at"])
    assert _works(in_force.key)


def test_bootstrap_admin_key_set_to_the_rotated_key_keeps_it() -> None:
    rotated = call_api("POST", f"{BOOTSTRAP}/rotate").body

    in_force = _restart(rotated["key"])

    assert in_force == AdminKeyInForce(rotated["key"], rotated_at=rotated["rotated_at"])
    assert _item_exists()


def test_bootstrap_admin_key_replaces_a_rotated_key() -> None:
    rotated = call_api("POST", f"{BOOTSTRAP}/rotate").body

    in_force = _restart(ADMIN_KEY)

    assert in_force == AdminKeyInForce(ADMIN_KEY, replaced=True)
    assert not _item_exists()
    assert _works(ADMIN_KEY)
    assert not _works(rotated["key"])


def test_a_disabled_key_is_said_so_and_bootstrap_admin_key_enables_it() -> None:
    create_role("ops", admin=True)
    create_key("ops")
    assert call_api("PATCH", BOOTSTRAP, {"enabled": False}).status == 200

    assert _restart(None) == AdminKeyInForce(ADMIN_KEY, disabled=True)
    assert _restart(ADMIN_KEY) == AdminKeyInForce(ADMIN_KEY, replaced=True)
    assert _works(ADMIN_KEY)
