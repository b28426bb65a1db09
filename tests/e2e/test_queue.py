"""Queue mode through the local stack: accepted with 202, delivered by the worker it polls for,
scheduled for later, cancelled while still waiting; followed through the message status API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.api import ApiResponse
from tests.support.events import EVENTS_API_KEY, send_body
from tests.support.stack_process import RunningStack

HEADERS = {"X-DreamFactory-API-Key": EVENTS_API_KEY, "Content-Type": "application/json"}
# The worker poller waits at most a second per receive; the rest is slack for a busy machine.
DELIVERY_BUDGET_SECONDS = 10.0


def queue(stack: RunningStack, body: dict[str, Any], *, query: str = "") -> ApiResponse:
    return stack.request(
        "POST", "/api/v2/email", body=json.dumps(body), headers=HEADERS, query=query
    )


def status_of(stack: RunningStack, record_id: str) -> ApiResponse:
    return stack.request("GET", f"/api/v2/email/messages/{record_id}", headers=HEADERS)


def wait_for_status(
    stack: RunningStack, record_id: str, wanted: str, budget: float = DELIVERY_BUDGET_SECONDS
) -> dict[str, Any]:
    """The record once its status is `wanted`; fails with the last one seen after `budget`."""
    deadline = time.monotonic() + budget
    while True:
        answer = status_of(stack, record_id)
        assert answer.status == 200, answer.body
        if answer.body["status"] == wanted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert answer.body["status"] == wanted, f"{answer.body}\n{stack.log()[-4000:]}"
    record: dict[str, Any] = answer.body
    return record


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")


def test_an_async_send_is_queued_then_sent_by_the_worker(stack: RunningStack) -> None:
    body = send_body("send-basic.json")

    accepted = queue(stack, body, query="async=true")

    assert accepted.status == 202, accepted.body
    assert accepted.body["status"] == "queued"
    record = wait_for_status(stack, accepted.body["id"], "sent")
    assert record["attempts"] == 1
    assert record["accepted"] == ["john.doe@example.com"]
    message, envelope = stack.captured(accepted.body["message_id"])
    assert envelope.rcpt_tos == ["john.doe@example.com"]
    assert message["Subject"] == body["subject"]
    # A status record keeps what happened, never what was said.
    assert body["body_text"] not in json.dumps(record)


def test_a_send_at_two_seconds_ahead_is_scheduled_then_sent(stack: RunningStack) -> None:
    body = {**send_body("send-basic.json"), "send_at": in_seconds(2)}

    accepted = queue(stack, body)

    assert accepted.status == 202, accepted.body
    assert accepted.body["status"] == "scheduled"
    assert status_of(stack, accepted.body["id"]).body["status"] == "scheduled"
    wait_for_status(stack, accepted.body["id"], "sent")
    stack.captured(accepted.body["message_id"])


def test_a_message_scheduled_an_hour_ahead_can_be_cancelled(stack: RunningStack) -> None:
    body = {**send_body("send-basic.json"), "send_at": in_seconds(3600)}
    accepted = queue(stack, body)
    path = f"/api/v2/email/messages/{accepted.body['id']}"

    cancelled = stack.request("DELETE", path, headers=HEADERS)
    again = stack.request("DELETE", path, headers=HEADERS)

    assert accepted.status == 202, accepted.body
    assert accepted.body["status"] == "scheduled"
    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["status"] == "cancelled"
    assert status_of(stack, accepted.body["id"]).body["status"] == "cancelled"
    assert again.status == 409
    assert again.reason == "not_cancellable"


def test_an_unknown_message_is_a_404(stack: RunningStack) -> None:
    answer = status_of(stack, "0" * 32)

    assert answer.status == 404
    assert answer.reason == "message_not_found"
