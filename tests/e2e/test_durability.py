"""What the local stack accepted survives it being killed: services, keys, records, the queue.

Each test runs stacks of its own on one work directory (mail and state), since it kills them.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local_stack.mail_capture import read_captured
from tests.support.api import ApiResponse
from tests.support.network import free_port
from tests.support.stack_process import RunningStack, restart_stack, start_stack

ADMIN_KEY = "durability-admin-key"
# A transient failure comes back 3 to 9 seconds later (6 s, jittered): time enough to kill the
# stack while no attempt is under way, soon enough for a short test.
RETRY_ENV = {"RETRY_BASE_SECONDS": "6", "MAX_ATTEMPTS": "8"}
# Due while the stack is down, and due after it is back.
DUE_WHILE_DOWN_SECONDS = 2
DUE_AFTER_RESTART_SECONDS = 10
BUDGET_SECONDS = 20.0


@pytest.fixture(autouse=True)
def no_stack_left_behind() -> Any:
    """A failed assertion must not leave a stack running: end whatever this test started."""
    started: list[RunningStack] = []
    original = start_stack

    def tracked(*args: Any, **kwargs: Any) -> RunningStack:
        stack = original(*args, **kwargs)
        started.append(stack)
        return stack

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tests.support.stack_process.start_stack", tracked)
        patch.setattr(f"{__name__}.start_stack", tracked)
        yield
    for stack in started:
        if stack.process.poll() is None:
            stack.kill()


def call(
    stack: RunningStack, method: str, path: str, body: Any = None, *, key: str = ADMIN_KEY
) -> ApiResponse:
    return stack.request(
        method,
        path,
        body=None if body is None else json.dumps(body),
        headers={"X-DreamFactory-API-Key": key, "Content-Type": "application/json"},
    )


def statuses(stack: RunningStack, ids: list[str], key: str) -> dict[str, str]:
    found = {}
    for record_id in ids:
        answer = call(stack, "GET", f"/api/v2/outbox/messages/{record_id}", key=key)
        assert answer.status == 200, answer.body
        found[record_id] = answer.body["status"]
    return found


def wait_until(stack: RunningStack, ids: list[str], key: str, wanted: str) -> dict[str, str]:
    deadline = time.monotonic() + BUDGET_SECONDS
    while True:
        seen = statuses(stack, ids, key)
        if set(seen.values()) == {wanted} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(seen.values()) == {wanted}, f"{seen}\n{stack.log()[-3000:]}"
    return seen


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def test_a_killed_stack_delivers_everything_it_accepted_once_and_on_time(tmp_path: Path) -> None:
    first = start_stack(tmp_path, admin_key=ADMIN_KEY, extra_env=RETRY_ENV)
    # Nothing listens here yet: the next run's capture server will.
    later_smtp = free_port()
    service = {
        "name": "outbox",
        "config": {
            "host": "127.0.0.1",
            "port": later_smtp,
            "encryption": "none",
            "from_email": "app@example.com",
        },
    }
    assert call(first, "POST", "/api/v2/system/service", service).status == 201
    assert call(first, "POST", "/api/v2/system/role", {"name": "app", "services": ["outbox"]})
    created = call(first, "POST", "/api/v2/system/api_key", {"label": "app", "role": "app"})
    assert created.status == 201, created.body
    key = created.body["key"]

    message = {"to": "jane@example.com", "body_text": "Hi"}
    queued = [
        call(
            first, "POST", "/api/v2/outbox?async=true", {**message, "subject": f"now {n}"}, key=key
        )
        for n in range(4)
    ]
    assert [answer.status for answer in queued] == [202] * 4, queued
    queued_ids = [answer.body["id"] for answer in queued]
    # Each tried once and refused (nothing listens there): its retry is seconds away.
    wait_until(first, queued_ids, key, "deferred")
    scheduled = [
        call(
            first,
            "POST",
            "/api/v2/outbox",
            {**message, "subject": f"at {n}", "send_at": at(n)},
            key=key,
        )
        for n in (DUE_WHILE_DOWN_SECONDS, DUE_AFTER_RESTART_SECONDS)
    ]
    assert [answer.status for answer in scheduled] == [202] * 2, scheduled
    scheduled_ids = [answer.body["id"] for answer in scheduled]
    first.kill()
    time.sleep(DUE_WHILE_DOWN_SECONDS)

    second = restart_stack(first, smtp_port=later_smtp)

    assert "restored from" in second.log()
    assert call(second, "GET", "/api/v2/system/service/outbox").status == 200
    assert call(second, "GET", "/api/v2/system/role/app").status == 200
    wait_until(second, queued_ids + scheduled_ids, key, "sent")
    records = {
        record_id: call(second, "GET", f"/api/v2/outbox/messages/{record_id}", key=key).body
        for record_id in queued_ids + scheduled_ids
    }
    captured = read_captured(second.mail_dir)
    times = Counter(mail.message_id for mail in captured)
    assert {times[record["message_id"]] for record in records.values()} == {1}, times
    received_at = {mail.message_id: datetime.fromisoformat(mail.received_at) for mail in captured}
    for record_id in scheduled_ids:
        record = records[record_id]
        # send_at is given in whole seconds, and SQS delays in whole seconds too.
        not_before = datetime.fromisoformat(record["send_at"]) - timedelta(seconds=1)
        assert received_at[record["message_id"]] >= not_before, record
    assert second.stop() == 0


def test_the_generated_admin_key_is_kept_and_dev_reset_starts_clean(tmp_path: Path) -> None:
    first = start_stack(tmp_path, admin_key="")
    generated = _banner_key(first)
    service = {"name": "kept", "config": {"host": "127.0.0.1", "port": 2525}}
    assert call(first, "POST", "/api/v2/system/service", service, key=generated).status == 201
    assert first.stop() == 0

    second = restart_stack(first)

    assert _banner_key(second) == generated
    assert call(second, "GET", "/api/v2/system/service/kept", key=generated).status == 200
    assert "restored from" in second.log()
    # The bootstrap found its `email` service and made no second one.
    listed = call(second, "GET", "/api/v2/system/service", key=generated).body["resource"]
    assert sorted(s["name"] for s in listed) == ["email", "kept"]
    second.kill()

    third = restart_stack(second, arguments=("--reset",))

    fresh = _banner_key(third)
    assert fresh != generated
    assert "started fresh (--reset)" in third.log()
    assert call(third, "GET", "/api/v2/system/service/kept", key=fresh).status == 404
    assert call(third, "GET", "/api/v2/system/service", key=generated).status == 401
    assert third.stop() == 0


def _banner_key(stack: RunningStack) -> str:
    found = re.search(r"Admin API key +(\S+)", stack.log())
    assert found, stack.log()
    return found.group(1)
