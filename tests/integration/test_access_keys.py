"""API keys: shown once, stored as a hash, accepted where DreamFactory clients put them,
and refused alike (401, no hint why) once unknown, disabled, revoked, rotated or orphaned."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from core.access.tokens import new_key_id, new_secret, split_token, token_for
from tests.conftest import TABLE_NAMES
from tests.support.access import CreatedKey, create_key, create_role, send
from tests.support.api import call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> CaptureServer:
    server = smtp_server()
    create_plain_service(server.port)
    return server


@pytest.fixture
def key(server: CaptureServer) -> CreatedKey:
    create_role("app", services=["email"])
    return create_key("app", label="billing app")


def _stored_keys() -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(TABLE_NAMES["ApiKeysTable"])
    return list(table.scan()["Items"])


def _rotate(key_id: str, **body: int) -> CreatedKey:
    response = call_api("POST", f"/api/v2/system/api_key/{key_id}/rotate", body or None)
    assert response.status == 200, response.body
    return CreatedKey(id=response.body["id"], token=response.body["key"], shown=response.body)


# --- 401: every way a key can be wrong looks the same ------------------------------------------


def _missing(_key: CreatedKey) -> str | None:
    return None


def _unknown(_key: CreatedKey) -> str | None:
    return token_for(new_key_id(), new_secret())


def _malformed(_key: CreatedKey) -> str | None:
    return "not-an-api-key"


def _wrong_secret(key: CreatedKey) -> str | None:
    return token_for(key.id, new_secret())


def _disabled(key: CreatedKey) -> str | None:
    assert call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"enabled": False}).status == 200
    return key.token


def _deleted(key: CreatedKey) -> str | None:
    assert call_api("DELETE", f"/api/v2/system/api_key/{key.id}").status == 200
    return key.token


def _role_deleted(key: CreatedKey) -> str | None:
    # The API refuses to delete a role in use (409); a race or a hand edit still could.
    boto3.resource("dynamodb").Table("email-api-roles").delete_item(Key={"name": key.shown["role"]})
    return key.token


def _rotated_without_overlap(key: CreatedKey) -> str | None:
    _rotate(key.id)
    return key.token


REFUSALS = [
    _missing,
    _unknown,
    _malformed,
    _wrong_secret,
    _disabled,
    _deleted,
    _role_deleted,
    _rotated_without_overlap,
]


def test_refused_keys_all_get_the_same_401(server: CaptureServer) -> None:
    unauthorized = send(None)
    assert (unauthorized.status, unauthorized.reason) == (401, "unauthorized")
    message = unauthorized.body["error"]["message"].lower()
    assert not any(word in message for word in ("disabled", "revoked", "deleted", "role", "rotat"))

    for index, case in enumerate(REFUSALS):
        # Each case spoils a key of its own, one that worked until then.
        create_role(f"app-{index}", services=["email"])
        key = create_key(f"app-{index}")
        assert send(key.token).status == 200
        token = case(key)

        response = send(token)

        assert (response.status, response.body) == (401, unauthorized.body), case.__name__
    assert len(server.messages) == len(REFUSALS)  # only the sends before


def test_refused_key_cannot_administer(key: CreatedKey) -> None:
    _disabled(key)

    for method, path in [("GET", "/api/v2/system/role"), ("GET", "/api/v2/system/api_key")]:
        assert call_api(method, path, api_key=key.token).status == 401


def test_a_reenabled_key_works_again(server: CaptureServer, key: CreatedKey) -> None:
    _disabled(key)
    assert send(key.token).status == 401

    response = call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"enabled": True})

    assert (response.status, response.body["enabled"]) == (200, True)
    assert send(key.token).status == 200
    assert len(server.messages) == 1


# --- rotation ----------------------------------------------------------------------------------


def test_rotation_keeps_id_and_role(server: CaptureServer, key: CreatedKey) -> None:
    rotated = _rotate(key.id)

    assert rotated.id == key.id
    assert rotated.shown["role"] == "app"
    assert rotated.shown["label"] == "billing app"
    assert rotated.shown["rotated_at"]
    assert rotated.token != key.token
    assert split_token(rotated.token) is not None
    assert send(rotated.token).status == 200
    assert send(key.token).status == 401
    assert len(server.messages) == 1


def test_old_key_works_during_the_overlap_and_not_after(
    server: CaptureServer, key: CreatedKey
) -> None:
    rotated = _rotate(key.id, overlap_seconds=4)  # room for a busy machine before the first send
    valid_until = datetime.fromisoformat(rotated.shown["previous_valid_until"])

    assert send(key.token).status == 200
    assert send(rotated.token).status == 200

    time.sleep(max(0.0, (valid_until - datetime.now(UTC)).total_seconds()) + 0.05)

    response = send(key.token)
    assert (response.status, response.body) == (401, send(None).body)
    assert send(rotated.token).status == 200
    assert len(server.messages) == 3


def test_rotating_again_ends_the_first_overlap(server: CaptureServer, key: CreatedKey) -> None:
    second = _rotate(key.id, overlap_seconds=600)
    third = _rotate(key.id, overlap_seconds=600)

    assert send(key.token).status == 401  # only the one secret before the latest survives
    assert send(second.token).status == 200
    assert send(third.token).status == 200


def test_invalid_overlap(key: CreatedKey) -> None:
    for overlap in (-1, 7 * 86_400 + 1, "soon", None):
        response = call_api(
            "POST", f"/api/v2/system/api_key/{key.id}/rotate", {"overlap_seconds": overlap}
        )

        assert (response.status, response.reason) == (400, "invalid_request"), overlap
    assert send(key.token).status == 200


# --- shown once, stored as a hash --------------------------------------------------------------


def test_the_key_is_shown_once_and_stored_only_as_a_hash(key: CreatedKey) -> None:
    key_id, secret = split_token(key.token) or ("", "")
    assert key_id == key.id
    assert key.shown["role"] == "app"
    assert key.shown["label"] == "billing app"
    assert key.shown["enabled"] is True
    assert key.shown["created_at"]

    shown_later = [
        call_api("GET", "/api/v2/system/api_key").body,
        call_api("GET", f"/api/v2/system/api_key/{key.id}").body,
        call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"label": "renamed"}).body,
    ]
    for body in shown_later:
        text = json.dumps(body)
        assert secret not in text
        assert '"key"' not in text
        assert "hash" not in text
    assert sorted(k["id"] for k in shown_later[0]["resource"]) == sorted(["bootstrap", key.id])

    (stored,) = _stored_keys()
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps(stored, default=str)


def test_rotation_shows_the_new_key_once_and_hides_the_old_hash(key: CreatedKey) -> None:
    rotated = _rotate(key.id, overlap_seconds=600)
    _, old_secret = split_token(key.token) or ("", "")
    _, new_secret_ = split_token(rotated.token) or ("", "")

    shown = call_api("GET", f"/api/v2/system/api_key/{key.id}").body

    assert "key" not in shown
    assert "hash" not in json.dumps(shown)
    assert shown["previous_valid_until"] == rotated.shown["previous_valid_until"]
    (stored,) = _stored_keys()
    assert stored["secret_hash"] == hashlib.sha256(new_secret_.encode()).hexdigest()
    assert stored["previous_secret_hash"] == hashlib.sha256(old_secret.encode()).hexdigest()
    assert old_secret not in json.dumps(stored, default=str)
    assert new_secret_ not in json.dumps(stored, default=str)


# --- presenting the key ------------------------------------------------------------------------


def test_every_place_dreamfactory_clients_put_the_key(
    server: CaptureServer, key: CreatedKey
) -> None:
    places: list[tuple[dict[str, str], str]] = [
        ({"X-DreamFactory-API-Key": key.token}, ""),
        ({"X-API-Key": key.token}, ""),
        ({"x-api-key": key.token}, ""),
        ({}, f"api_key={key.token}"),
    ]
    for headers, query in places:
        response = call_api(
            "POST",
            "/api/v2/email",
            {"to": "john@example.com", "body_text": "Hi"},
            api_key=None,
            headers=headers,
            query=query,
        )

        assert (response.status, response.body.get("count")) == (200, 1), (headers, query)
    assert [message.rcpt_tos for message in server.messages] == [["john@example.com"]] * 4


def test_last_use_is_recorded(server: CaptureServer, key: CreatedKey) -> None:
    assert key.shown["last_used_at"] is None
    before = datetime.now(UTC).replace(microsecond=0)

    assert send(key.token).status == 200

    shown = call_api("GET", f"/api/v2/system/api_key/{key.id}").body
    assert datetime.fromisoformat(shown["last_used_at"]) >= before


# --- administering keys ------------------------------------------------------------------------


def test_a_key_needs_an_existing_role(server: CaptureServer) -> None:
    # Not even the bootstrap key's built-in role: no key can be minted with it.
    for role in ("nobody", "bootstrap-admin"):
        response = call_api("POST", "/api/v2/system/api_key", {"label": "x", "role": role})

        assert (response.status, response.reason) == (400, "role_not_found"), role
    assert _stored_keys() == []


def test_a_key_cannot_be_moved_to_the_bootstrap_role(key: CreatedKey) -> None:
    response = call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"role": "bootstrap-admin"})

    assert (response.status, response.reason) == (400, "role_not_found")
    assert call_api("GET", "/api/v2/system/role", api_key=key.token).reason == "admin_only"


def test_invalid_key_requests(key: CreatedKey) -> None:
    for body in (
        {"label": "no role"},
        {"role": "app", "secret_hash": "0" * 64},  # nobody chooses their own secret
        {"role": "app", "key": "0123456789abcdef." + "A" * 43},
        {"role": "app", "id": "0123456789abcdef"},
    ):
        response = call_api("POST", "/api/v2/system/api_key", body)

        assert (response.status, response.reason) == (400, "invalid_request"), body
    assert len(_stored_keys()) == 1


def test_changing_a_keys_role_takes_effect(server: CaptureServer, key: CreatedKey) -> None:
    create_role("other", services=["bulk"])

    response = call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"role": "other"})

    assert (response.status, response.body["role"]) == (200, "other")
    assert send(key.token).reason == "service_forbidden"
    assert server.sessions == 0
    missing = call_api("PATCH", f"/api/v2/system/api_key/{key.id}", {"role": "nobody"})
    assert (missing.status, missing.reason) == (400, "role_not_found")


def test_unknown_key_id(server: CaptureServer) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = call_api(method, "/api/v2/system/api_key/0123456789abcdef", {})
        assert (response.status, response.reason) == (404, "api_key_not_found")
    rotated = call_api("POST", "/api/v2/system/api_key/0123456789abcdef/rotate")
    assert (rotated.status, rotated.reason) == (404, "api_key_not_found")


def test_deleted_key_is_gone(key: CreatedKey) -> None:
    response = call_api("DELETE", f"/api/v2/system/api_key/{key.id}")

    assert (response.status, response.body) == (200, {"id": key.id})
    assert call_api("GET", f"/api/v2/system/api_key/{key.id}").status == 404
    # Only the bootstrap admin key is left (it is listed too, and cannot be deleted).
    listed = call_api("GET", "/api/v2/system/api_key").body["resource"]
    assert [k["id"] for k in listed] == ["bootstrap"]
    assert _stored_keys() == []


def test_a_role_in_use_cannot_be_deleted(key: CreatedKey) -> None:
    role = key.shown["role"]

    refused = call_api("DELETE", f"/api/v2/system/role/{role}")

    assert (refused.status, refused.reason) == (409, "role_in_use"), refused.body
    assert refused.body["error"]["context"] == {"api_keys": [key.id]}
    assert send(key.token).status == 200
    # Once its keys are revoked the role can go, and a new role of that name revives nothing.
    assert call_api("DELETE", f"/api/v2/system/api_key/{key.id}").status == 200
    assert call_api("DELETE", f"/api/v2/system/role/{role}").status == 200
    create_role(role, services=["email"])
    assert send(key.token).status == 401
