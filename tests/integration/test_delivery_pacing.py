"""A provider's send rate, as the provider sees it: queued mail, through the API and the
worker, reaches a real SMTP server never more than `max_send_rate` in any sliding second,
however the workers' invocations fall around a clock second's edge."""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from tests.support.api import call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, CaptureServer

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

MAX_SEND_RATE = 2
QUEUED = 6


def _queue(count: int) -> list[str]:
    ids = []
    for number in range(count):
        body = {"to": "jane@example.com", "subject": f"#{number}", "body_text": "Hi"}
        answer = call_api("POST", "/api/v2/email", body, query="async=true")
        assert answer.status == 202, answer.body
        ids.append(answer.body["id"])
    return ids


def _status(record_id: str) -> str:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    status: str = answer.body["status"]
    return status


def _most_in_a_second(arrivals: list[float]) -> int:
    """The most arrivals in any closed one-second window (each window starting at one)."""
    times = sorted(arrivals)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


def test_queued_mail_never_arrives_faster_than_max_send_rate(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    server = smtp_server()
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "a@example.com",
            "max_send_rate": MAX_SEND_RATE,
        }
    )
    record_ids = _queue(QUEUED)
    received: list[MessageTypeDef] = []
    while len(received) < QUEUED:
        received.extend(send_queue.receive())
    # Late in a clock second: the first invocations send within it, the next ones find a new
    # second begun (what a calendar-second counter would let through all over again).
    time.sleep((0.8 - time.time() % 1) % 1)

    # One message per invocation, as many Lambdas picking the queue up one after another.
    for message in received:
        send_queue.run_worker([message])
    # Then the worker, as often as the paced messages come back, until every one is out.
    give_up = time.monotonic() + 30
    while len(server.messages) < QUEUED and time.monotonic() < give_up:
        if not send_queue.run_worker().received:
            time.sleep(0.1)

    assert [_status(record_id) for record_id in record_ids] == ["sent"] * QUEUED
    assert len(server.messages) == QUEUED
    assert _most_in_a_second([message.arrived_at for message in server.messages]) == MAX_SEND_RATE
