"""The audit trail: one structured line per admin change (who, what, which, when), and never
a key, a hash of one, or a password in any log line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import TABLE_NAMES
from tests.support.access import create_key, create_role, send
from tests.support.api import ADMIN_KEY, call_api
from tests.support.smtp_servers import LOOPBACK, CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

PASSWORD = "pw-audit-7Qx!never-logged"
ReadLogs = Callable[[], str]


def _audit_lines(logs: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    return [line["audit"] for line in lines if line["message"] == "audit"]


def _hashes() -> set[str]:
    table = boto3.resource("dynamodb").Table(TABLE_NAMES["ApiKeysTable"])
    return {
        str(item[field])
        for item in table.scan()["Items"]
        for field in ("secret_hash", "previous_secret_hash")
        if field in item
    }


def _ok(response: Any) -> Any:
    assert 200 <= response.status < 300, response.body
    return response.body


def test_each_admin_change_is_one_audit_line(
    smtp_server: Callable[..., CaptureServer], function_logs: ReadLogs
) -> None:
    server = smtp_server(credentials=("mailer", PASSWORD))
    config = {
        "host": LOOPBACK,
        "port": server.port,
        "encryption": "none",
        "username": "mailer",
        "password": PASSWORD,
        "from_email": "a@example.com",
    }
    started = datetime.now(UTC).replace(microsecond=0)

    _ok(call_api("POST", "/api/v2/system/service", {"name": "email", "config": config}))
    _ok(call_api("PATCH", "/api/v2/system/service/email", {"config": {"password": PASSWORD}}))
    _ok(call_api("POST", "/api/v2/system/role", {"resource": [{"name": "app"}, {"name": "ops"}]}))
    _ok(call_api("PATCH", "/api/v2/system/role/app", {"services": ["email"]}))
    created = _ok(call_api("POST", "/api/v2/system/api_key", {"label": "web", "role": "app"}))
    key_id, first_token = created["id"], created["key"]
    _ok(call_api("PATCH", f"/api/v2/system/api_key/{key_id}", {"label": "web shop"}))
    rotated = _ok(
        call_api("POST", f"/api/v2/system/api_key/{key_id}/rotate", {"overlap_seconds": 60})
    )
    hashes = _hashes()
    # Uses and reads are not changes; refused and failed changes change nothing.
    _ok(send(first_token))
    _ok(send(rotated["key"]))
    _ok(call_api("GET", "/api/v2/system/api_key"))
    _ok(call_api("GET", "/api/v2/system/role/app"))
    assert call_api("POST", "/api/v2/system/role", {"name": "x"}, api_key=first_token).status == 403
    assert call_api("POST", "/api/v2/system/role", {"name": "app"}).status == 409
    assert call_api("POST", "/api/v2/system/role", {"name": "Bad"}).status == 400
    assert call_api("DELETE", "/api/v2/system/role/nobody").status == 404
    _ok(call_api("DELETE", f"/api/v2/system/api_key/{key_id}"))
    _ok(call_api("DELETE", "/api/v2/system/role/ops"))
    _ok(call_api("DELETE", "/api/v2/system/service/email"))

    logs = function_logs()
    audits = _audit_lines(logs)
    assert [(line["action"], line["target"]) for line in audits] == [
        ("service.create", "email"),
        ("service.update", "email"),
        ("role.create", "app"),
        ("role.create", "ops"),
        ("role.update", "app"),
        ("api_key.create", key_id),
        ("api_key.update", key_id),
        ("api_key.rotate", key_id),
        ("api_key.delete", key_id),
        ("role.delete", "ops"),
        ("service.delete", "email"),
    ]
    for line in audits:
        assert (line["actor_key_id"], line["actor_role"]) == ("bootstrap", "bootstrap-admin")
        at = datetime.fromisoformat(line["at"])
        assert started <= at <= datetime.now(UTC) + timedelta(seconds=1)
    # A key's secret is the part after its id; neither it nor its hash may show up anywhere.
    key_secrets = [token.partition(".")[2] for token in (first_token, rotated["key"])]
    secrets = {PASSWORD, ADMIN_KEY, *key_secrets, *hashes}
    assert len(hashes) == 2
    for secret in secrets:
        assert secret not in logs


def test_the_actor_is_the_key_that_made_the_change(function_logs: ReadLogs) -> None:
    create_role("ops", admin=True)
    ops = create_key("ops")

    call_api("POST", "/api/v2/system/role", {"name": "app"}, api_key=ops.token)
    call_api("DELETE", "/api/v2/system/role/app", api_key=ops.token)

    logs = function_logs()
    assert [
        (line["actor_key_id"], line["actor_role"], line["action"], line["target"])
        for line in _audit_lines(logs)
    ] == [
        ("bootstrap", "bootstrap-admin", "role.create", "ops"),
        ("bootstrap", "bootstrap-admin", "api_key.create", ops.id),
        (ops.id, "ops", "role.create", "app"),
        (ops.id, "ops", "role.delete", "app"),
    ]
    assert ops.token not in logs


@pytest.mark.parametrize(
    ("resource", "record"),
    [("role", {}), ("service", {"config": {"host": LOOPBACK, "from_email": "a@example.com"}})],
)
def test_a_batch_that_fails_half_way_still_audits_what_it_created(
    function_logs: ReadLogs, resource: str, record: dict[str, Any]
) -> None:
    path = f"/api/v2/system/{resource}"
    _ok(call_api("POST", path, {"name": "taken", **record}))

    response = call_api(
        "POST", path, {"resource": [{"name": "fresh", **record}, {"name": "taken", **record}]}
    )

    assert (response.status, response.reason) == (409, f"{resource}_exists")
    existing = {item["name"] for item in call_api("GET", path).body["resource"]}
    audits = _audit_lines(function_logs())
    # Whatever the batch left behind, the trail shows.
    assert {line["target"] for line in audits} == existing
    assert {line["action"] for line in audits} == {f"{resource}.create"}
