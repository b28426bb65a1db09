"""The bootstrap admin key is a key like the others: listed (never its secret), rotated with the
same overlap, disabled when another admin key exists; never deleted, and never brought back by a
redeploy that rewrites the admin key secret."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from core import runtime
from core.errors import Unauthorized
from tests.conftest import ADMIN_KEY_SECRET, TABLE_NAMES
from tests.support.access import CreatedKey, create_key, create_role
from tests.support.api import ADMIN_KEY, ApiResponse, call_api

pytestmark = pytest.mark.usefixtures("aws")

KEYS = "/api/v2/system/api_key"
BOOTSTRAP = f"{KEYS}/bootstrap"


def _as(api_key: str) -> ApiResponse:
    """An admin-only call made with `api_key`."""
    return call_api("GET", "/api/v2/system/role", api_key=api_key)


def _rotate(**body: int) -> dict[str, Any]:
    response = call_api("POST", f"{BOOTSTRAP}/rotate", body or None)
    assert response.status == 200, response.body
    return dict(response.body)


def _stored_bootstrap() -> dict[str, Any] | None:
    table = boto3.resource("dynamodb").Table(TABLE_NAMES["ApiKeysTable"])
    item: dict[str, Any] | None = table.get_item(Key={"id": "bootstrap"}).get("Item")
    return item


def _secret_value() -> str:
    value: str = boto3.client("secretsmanager").get_secret_value(SecretId=ADMIN_KEY_SECRET)[
        "SecretString"
    ]
    return value


def _admin_key() -> CreatedKey:
    create_role("ops", admin=True)
    return create_key("ops", label="ops")


# --- listed, never its secret ------------------------------------------------------------------


def test_the_bootstrap_key_is_listed_without_its_secret() -> None:
    listed = call_api("GET", KEYS)

    assert listed.status == 200, listed.body
    (bootstrap,) = [key for key in listed.body["resource"] if key["id"] == "bootstrap"]
    assert bootstrap["role"] == "bootstrap-admin"
    assert bootstrap["enabled"] is True
    assert bootstrap["label"]
    assert datetime.fromisoformat(bootstrap["created_at"]) <= datetime.now(UTC)
    assert bootstrap["rotated_at"] is None
    assert "key" not in bootstrap
    assert "secret_hash" not in bootstrap
    assert ADMIN_KEY not in json.dumps(listed.body)
    assert call_api("GET", BOOTSTRAP).body == bootstrap
    assert call_api("GET", KEYS, query="count_only=true").body == 1
    # Listing writes nothing: the secret stays the key until a change.
    assert _stored_bootstrap() is None


def test_listed_among_other_keys() -> None:
    other = _admin_key()

    ids = [key["id"] for key in call_api("GET", KEYS).body["resource"]]

    assert sorted(ids) == sorted(["bootstrap", other.id])
    fields = call_api("GET", KEYS, query="filter=role%3Dbootstrap-admin&fields=id,role").body
    assert fields == {"resource": [{"id": "bootstrap", "role": "bootstrap-admin"}]}
    picked = call_api("GET", KEYS, query="ids=bootstrap&fields=id,enabled").body
    assert picked == {"resource": [{"id": "bootstrap", "enabled": True}]}


# --- rotated like the others -------------------------------------------------------------------


def test_rotation_returns_a_new_key_once_and_ends_the_old_one() -> None:
    created_at = call_api("GET", BOOTSTRAP).body["created_at"]

    rotated = _rotate()

    new_key = rotated["key"]
    assert new_key != ADMIN_KEY
    assert (rotated["id"], rotated["role"], rotated["enabled"]) == (
        "bootstrap",
        "bootstrap-admin",
        True,
    )
    assert rotated["rotated_at"]
    assert rotated["created_at"] == created_at
    assert _as(new_key).status == 200
    assert _as(ADMIN_KEY).status == 401
    shown = call_api("GET", BOOTSTRAP, api_key=new_key).body
    assert "key" not in shown
    assert new_key not in json.dumps(shown)


def test_old_key_works_during_the_overlap_and_not_after() -> None:
    rotated = _rotate(overlap_seconds=600)
    valid_until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert timedelta(seconds=599) < valid_until - datetime.now(UTC) <= timedelta(seconds=601)

    assert _as(ADMIN_KEY).status == 200
    assert _as(rotated["key"]).status == 200

    # The overlap over, without waiting for it: its end moved to a second ago (the boundary
    # itself is tests/unit/test_access_rotation.py's).
    table = boto3.resource("dynamodb").Table(TABLE_NAMES["ApiKeysTable"])
    ended = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    table.update_item(
        Key={"id": "bootstrap"},
        UpdateExpression="SET previous_valid_until = :ended",
        ExpressionAttributeValues={":ended": ended},
    )

    assert _as(ADMIN_KEY).status == 401
    assert _as(rotated["key"]).status == 200


def test_rotating_again_ends_the_first_overlap() -> None:
    second = _rotate(overlap_seconds=600)
    third = call_api(
        "POST", f"{BOOTSTRAP}/rotate", {"overlap_seconds": 600}, api_key=second["key"]
    ).body

    assert _as(ADMIN_KEY).status == 401
    assert _as(second["key"]).status == 200
    assert _as(third["key"]).status == 200


def test_stored_as_a_hash_and_mirrored_in_the_secret() -> None:
    rotated = _rotate(overlap_seconds=60)

    stored = _stored_bootstrap()
    assert stored is not None
    assert stored["secret_hash"] == hashlib.sha256(rotated["key"].encode()).hexdigest()
    assert stored["previous_secret_hash"] == hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    assert rotated["key"] not in json.dumps(stored, default=str)
    # Operators read the key in force where they always have: the admin key secret.
    assert _secret_value() == rotated["key"]


def test_a_redeploy_that_rewrites_the_secret_brings_no_old_key_back() -> None:
    rotated = _rotate()
    # What a CloudFormation update that regenerates the secret, or a hand edit, would do.
    boto3.client("secretsmanager").put_secret_value(
        SecretId=ADMIN_KEY_SECRET, SecretString=ADMIN_KEY
    )

    assert _as(ADMIN_KEY).status == 401
    assert _as(rotated["key"]).status == 200


def test_invalid_overlap_changes_nothing() -> None:
    for overlap in (-1, 7 * 86_400 + 1, "soon"):
        response = call_api("POST", f"{BOOTSTRAP}/rotate", {"overlap_seconds": overlap})
        assert (response.status, response.reason) == (400, "invalid_request"), overlap
    assert _as(ADMIN_KEY).status == 200
    assert _stored_bootstrap() is None


def test_rotation_is_audited_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    rotated = _rotate(overlap_seconds=5)

    assert rotated["key"] not in caplog.text
    assert ADMIN_KEY not in caplog.text


# --- disabled, never deleted; nobody locks themselves out -------------------------------------


def test_the_bootstrap_key_cannot_be_deleted() -> None:
    response = call_api("DELETE", BOOTSTRAP)

    assert (response.status, response.reason) == (409, "bootstrap_key_permanent"), response.body
    assert "disable" in response.body["error"]["message"]
    assert _as(ADMIN_KEY).status == 200


def test_its_role_cannot_change() -> None:
    create_role("app", services=["email"])

    response = call_api("PATCH", BOOTSTRAP, {"role": "app"})

    assert (response.status, response.reason) == (400, "invalid_request"), response.body
    assert response.body["error"]["context"]["field"] == "role"
    assert _as(ADMIN_KEY).status == 200


def test_its_label_can_change() -> None:
    response = call_api("PATCH", BOOTSTRAP, {"label": "break glass"})

    assert (response.status, response.body["label"]) == (200, "break glass")
    assert call_api("GET", BOOTSTRAP).body["label"] == "break glass"
    assert _as(ADMIN_KEY).status == 200


def test_the_last_admin_key_cannot_be_disabled() -> None:
    create_role("app", services=["email"])
    create_key("app")  # not an admin: no way back in through it

    response = call_api("PATCH", BOOTSTRAP, {"enabled": False})

    assert (response.status, response.reason) == (409, "last_admin_key"), response.body
    assert _as(ADMIN_KEY).status == 200


def test_disabled_while_another_admin_key_works_and_enabled_again_by_it() -> None:
    ops = _admin_key()

    disabled = call_api("PATCH", BOOTSTRAP, {"enabled": False})

    assert (disabled.status, disabled.body["enabled"]) == (200, False)
    assert _as(ADMIN_KEY).status == 401
    # What it queued earlier is cancelled when the worker asks who it acts as now.
    with pytest.raises(Unauthorized):
        runtime.authenticator().principal_of("bootstrap")
    enabled = call_api("PATCH", BOOTSTRAP, {"enabled": True}, api_key=ops.token)
    assert enabled.status == 200, enabled.body
    assert _as(ADMIN_KEY).status == 200


def test_while_it_is_disabled_the_last_other_admin_key_stays() -> None:
    ops = _admin_key()
    create_role("app", services=["email"])
    assert call_api("PATCH", BOOTSTRAP, {"enabled": False}).status == 200

    for method, body in (
        ("DELETE", None),
        ("PATCH", {"enabled": False}),
        ("PATCH", {"role": "app"}),
    ):
        response = call_api(method, f"{KEYS}/{ops.id}", body, api_key=ops.token)
        assert (response.status, response.reason) == (409, "last_admin_key"), (method, body)
    assert _as(ops.token).status == 200
    # A second admin key lets the first go.
    second = call_api("POST", KEYS, {"role": "ops"}, api_key=ops.token).body["key"]
    assert call_api("DELETE", f"{KEYS}/{ops.id}", api_key=second).status == 200


def test_rotated_while_disabled_stays_disabled() -> None:
    ops = _admin_key()
    assert call_api("PATCH", BOOTSTRAP, {"enabled": False}).status == 200

    rotated = call_api("POST", f"{BOOTSTRAP}/rotate", api_key=ops.token)

    assert (rotated.status, rotated.body["enabled"]) == (200, False)
    assert _as(rotated.body["key"]).status == 401


def test_unknown_without_an_admin_key_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = _admin_key()
    monkeypatch.setenv("ADMIN_KEY_SECRET_ID", "")
    runtime.reset()

    assert [key["id"] for key in call_api("GET", KEYS, api_key=ops.token).body["resource"]] == [
        ops.id
    ]
    response = call_api("POST", f"{BOOTSTRAP}/rotate", api_key=ops.token)
    assert (response.status, response.reason) == (404, "api_key_not_found")
