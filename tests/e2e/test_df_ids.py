"""A script written against DreamFactory addresses services by their numeric id, through the
local stack: one whose `email` service was saved before ids existed gets an id on the first
read, a PATCH by that id reaches the mail, and a restart keeps the ids.

DreamFactory's services have an auto-increment `id` (df-core
`database/migrations/2015_01_27_190908_create_system_tables.php`, lines 64-68) and its system
API reads and changes one by id (`GET|PATCH /api/v2/system/service/{id}`, df-core
`src/Models/BaseModel.php`, line 503: "Record with identifier '<id>' not found." otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from local_stack.environment import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, table_names
from local_stack.mail_capture import read_captured
from tests.support.api import ApiResponse
from tests.support.events import EVENTS_API_KEY
from tests.support.stack_process import RunningStack, restart_stack, start_stack

# What a script's HTTP client sends (curl -H, requests' json=): DreamFactory's key header and
# JSON as UTF-8, said so.
SCRIPT_HEADERS = {
    "X-DreamFactory-API-Key": EVENTS_API_KEY,
    "Accept": "application/json",
    "Content-Type": "application/json; charset=utf-8",
}


def _script(stack: RunningStack, method: str, path: str, body: Any = None) -> ApiResponse:
    data = None if body is None else json.dumps(body).encode()
    return stack.request(method, path, body=data, headers=SCRIPT_HEADERS)


def _services_table(stack: RunningStack) -> Any:
    return boto3.resource(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{stack.moto_port}",
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    ).Table(table_names()["ServicesTable"])


def _as_saved_before_ids(stack: RunningStack) -> None:
    """The bootstrap's `email` service as a stack older than ids saved it: no id, no counter."""
    table = _services_table(stack)
    table.update_item(Key={"name": "email"}, UpdateExpression="REMOVE id")
    for bookkeeping in ("#counter", "#id:1"):
        table.delete_item(Key={"name": bookkeeping})


def test_a_script_reads_and_patches_a_service_by_id_and_a_restart_keeps_the_ids(
    tmp_path: Path,
) -> None:
    first = start_stack(tmp_path, admin_key=EVENTS_API_KEY)
    try:
        _as_saved_before_ids(first)
        assert "id" not in _services_table(first).get_item(Key={"name": "email"})["Item"]

        listed = _script(first, "GET", "/api/v2/system/service")
        assert listed.status == 200, listed.body
        [email] = listed.body["resource"]
        service_id = email["id"]
        by_id = _script(first, "GET", f"/api/v2/system/service/{service_id}")
        patched = _script(
            first,
            "PATCH",
            f"/api/v2/system/service/{service_id}",
            {"config": {"from_name": "Example Shop"}},
        )
        sent = _script(
            first,
            "POST",
            "/api/v2/email",
            {"to": [{"email": "jane@example.com"}], "subject": "Hi", "body_text": "Hello"},
        )
        created = _script(
            first,
            "POST",
            "/api/v2/system/service",
            {"name": "billing", "config": {"host": "127.0.0.1", "port": first.smtp_port}},
        )

        assert (service_id, email["name"]) == (1, "email")
        assert (by_id.status, by_id.body) == (200, email)
        assert patched.status == 200, patched.body
        assert (patched.body["id"], patched.body["config"]["from_name"]) == (1, "Example Shop")
        assert (sent.status, sent.body["count"]) == (200, 1), sent.body
        [mail] = [m for m in read_captured(first.mail_dir) if m.rcpt_tos == ["jane@example.com"]]
        message, _ = first.captured(mail.message_id)
        assert message["From"] == "Example Shop <noreply@example.com>"
        assert (created.status, created.body["id"]) == (201, 2), created.body
        assert first.stop() == 0
    finally:
        first.stop()

    second = restart_stack(first)
    try:
        after = _script(second, "GET", "/api/v2/system/service")
        again = _script(second, "GET", "/api/v2/system/service/1")
        missing = _script(second, "GET", "/api/v2/system/service/3")
        third = _script(
            second,
            "POST",
            "/api/v2/system/service",
            {"name": "alerts", "config": {"host": "127.0.0.1", "port": second.smtp_port}},
        )

        assert [(s["id"], s["name"]) for s in after.body["resource"]] == [
            (2, "billing"),
            (1, "email"),
        ]
        assert (again.body["name"], again.body["config"]["from_name"]) == (
            "email",
            "Example Shop",
        )
        assert (missing.status, missing.body["error"]["message"]) == (
            404,
            "Record with identifier '3' not found.",
        )
        assert (third.status, third.body["id"]) == (201, 3), third.body  # the counter was kept
        # The banner counts services, not the ids' bookkeeping beside them.
        assert ": 2 services," in second.log()
        assert second.stop() == 0
    finally:
        second.stop()
