"""A batch through the local stack over HTTP: three recipients, a copy each with its own
values, read back from the capture server's mail; and a queued batch the worker delivers."""

from __future__ import annotations

import json
from typing import Any

from tests.e2e.test_queue import wait_for_status
from tests.support.api import ApiResponse
from tests.support.events import EVENTS_API_KEY, send_body
from tests.support.stack_process import RunningStack

HEADERS = {"X-DreamFactory-API-Key": EVENTS_API_KEY, "Content-Type": "application/json"}


def _three_recipients() -> dict[str, Any]:
    body = send_body("send-batch.json")
    body["recipients"].append(
        {"email": "user2@example.com", "template_data": {"first_name": "Sam", "order_id": "A-1003"}}
    )
    return body


def _batch(stack: RunningStack, body: dict[str, Any], *, query: str = "") -> ApiResponse:
    return stack.request(
        "POST", "/api/v2/email/batch", body=json.dumps(body), headers=HEADERS, query=query
    )


def test_each_of_three_recipients_gets_their_own_copy(stack: RunningStack) -> None:
    body = _three_recipients()
    addresses = [r["email"] for r in body["recipients"]]

    answer = _batch(stack, body)

    assert answer.status == 200, answer.body
    results = answer.body["results"]
    assert [(r["index"], r["status"], r["count"]) for r in results] == [
        (0, "sent", 1),
        (1, "sent", 1),
        (2, "sent", 1),
    ]
    for result, recipient in zip(results, body["recipients"], strict=True):
        message, mail = stack.captured(result["message_id"])
        assert mail.rcpt_tos == [recipient["email"]]
        values = recipient["template_data"]
        assert message["Subject"] == f"Your order {values['order_id']}"
        text = message.get_body(("plain",))
        assert text is not None
        assert f"Hello {values['first_name']}" in text.get_content()
        raw = mail.eml_path.read_bytes()
        for other in addresses:
            if other != recipient["email"]:
                assert other.encode() not in raw


def test_a_queued_batch_is_delivered_by_the_worker(stack: RunningStack) -> None:
    answer = _batch(stack, _three_recipients(), query="async=true")

    assert answer.status == 202, answer.body
    for result in answer.body["results"]:
        assert result["status"] == "queued"
        record = wait_for_status(stack, result["id"], "sent")
        assert len(record["accepted"]) == 1
