"""Queue mode through moto's SQS and the worker: async and scheduled sends, staging, status."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import runtime
from core.composition.compose import compose
from core.delivery.attempt import Done, Hop
from core.delivery.job import INLINE_LIMIT_BYTES, MAX_DELAY_SECONDS, Job
from core.delivery.message_record import Status
from core.send_request import parse_send_request
from core.transport.base import Deadline
from tests.support.access import create_key, create_role
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, ScriptedServer

MESSAGE = {"to": ["john@example.com", "jane@example.com"], "subject": "Hi", "body_text": "Hi"}


@pytest.fixture
def server(send_queue: SendQueue) -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        create_service(
            {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@x.org"}
        )
        yield server


def _send(body: dict[str, Any] | None = None, **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body or MESSAGE, **options)


def _status(record_id: str, *, service: str = "email", **options: Any) -> ApiResponse:
    return call_api("GET", f"/api/v2/{service}/messages/{record_id}", **options)


# --- async -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "how",
    [{"query": "async=true"}, {"headers": {"Prefer": "respond-async"}}],
    ids=["query", "prefer"],
)
def test_async_send_is_queued_then_sent_by_the_worker(
    server: ScriptedServer, send_queue: SendQueue, how: dict[str, Any]
) -> None:
    answer = _send(**how)

    assert answer.status == 202, answer.body
    assert answer.body["status"] == "queued"
    assert _status(answer.body["id"]).body["status"] == "queued"
    assert server.transactions == []  # nothing goes out before the worker runs

    run = send_queue.run_worker()

    assert run.failed == set()
    record = _status(answer.body["id"])
    assert record.status == 200
    assert (record.body["status"], record.body["attempts"]) == ("sent", 1)
    assert record.body["accepted"] == MESSAGE["to"]
    (received,) = server.messages
    assert received.rcpt_tos == MESSAGE["to"]
    assert received.parsed()["Message-ID"] == answer.body["message_id"]
    assert send_queue.waiting() == 0


@pytest.mark.parametrize(
    ("body", "api_key", "status"),
    [
        pytest.param({"subject": "no recipient"}, None, 400, id="invalid"),
        pytest.param(MESSAGE, "restricted", 403, id="forbidden"),
    ],
)
def test_async_send_is_checked_like_a_sync_one(
    server: ScriptedServer,
    send_queue: SendQueue,
    body: dict[str, Any],
    api_key: str | None,
    status: int,
) -> None:
    options: dict[str, Any] = {}
    if api_key:
        create_role("elsewhere", services=["bulk"])
        options["api_key"] = create_key("elsewhere").token

    answer = _send(body, query="async=true", **options)

    assert answer.status == status, answer.body
    assert send_queue.waiting() == 0


def test_a_sync_send_has_a_record_too(server: ScriptedServer) -> None:
    answer = _send()

    assert answer.status == 200, answer.body
    record = _status(answer.body["id"]).body
    assert (record["status"], record["attempts"]) == ("sent", 1)
    assert record["accepted"] == MESSAGE["to"]
    assert record["message_id"] == answer.body["message_id"]
    # A record says what became of the message, never what it said.
    assert "Hi" not in json.dumps(record)


# --- message status --------------------------------------------------------------------------


def test_status_under_another_services_name_is_not_found(server: ScriptedServer) -> None:
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"}, name="bulk")
    sent = _send()

    answer = _status(sent.body["id"], service="bulk")

    assert (answer.status, answer.reason) == (404, "message_not_found")


def test_status_needs_a_key_allowed_to_use_the_service(server: ScriptedServer) -> None:
    sent = _send()
    create_role("bulk-only", services=["bulk"])

    answer = _status(sent.body["id"], api_key=create_key("bulk-only").token)

    assert (answer.status, answer.reason) == (403, "service_forbidden")


# --- scheduled -------------------------------------------------------------------------------


def _in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="seconds")


def test_a_scheduled_message_can_be_cancelled_and_is_never_sent(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    send_at = _in(timedelta(hours=1))
    answer = _send({**MESSAGE, "send_at": send_at})
    assert answer.status == 202, answer.body
    assert (answer.body["status"], answer.body["send_at"]) == ("scheduled", send_at)

    cancelled = call_api("DELETE", f"/api/v2/email/messages/{answer.body['id']}")

    assert cancelled.status == 200, cancelled.body
    assert cancelled.body["status"] == "cancelled"
    # An hour later the job comes due: the worker finds it cancelled and sends nothing.
    job = _job(answer.body, request=MESSAGE)
    later = datetime.fromisoformat(send_at) + timedelta(seconds=1)
    assert runtime.courier().process(job, Deadline.after(3), now=later) == Done(Status.CANCELLED)
    assert server.transactions == []
    assert _status(answer.body["id"]).body["status"] == "cancelled"


def test_a_schedule_beyond_sqs_delays_hops(server: ScriptedServer, send_queue: SendQueue) -> None:
    answer = _send({**MESSAGE, "send_at": _in(timedelta(hours=1))})
    send_at = datetime.fromisoformat(answer.body["send_at"])
    job = _job(answer.body, request=MESSAGE)
    courier = runtime.courier()

    # SQS delays by 15 minutes at most: the job hops until its time comes, then it goes.
    assert courier.process(job, Deadline.after(3), now=send_at - timedelta(hours=1)) == Hop(
        MAX_DELAY_SECONDS
    )
    assert courier.process(job, Deadline.after(3), now=send_at - timedelta(minutes=5)) == Hop(300)
    assert server.transactions == []
    assert courier.process(job, Deadline.after(3), now=send_at) == Done(Status.SENT)
    assert len(server.messages) == 1


def test_cancel_through_the_queue(server: ScriptedServer, send_queue: SendQueue) -> None:
    answer = _send({**MESSAGE, "send_at": _in(timedelta(seconds=2))})
    assert answer.body["status"] == "scheduled"
    call_api("DELETE", f"/api/v2/email/messages/{answer.body['id']}")

    (due,) = _wait_for_messages(send_queue)
    send_queue.run_worker([due])

    assert server.transactions == []
    assert send_queue.waiting() == 0


def test_a_sent_message_cannot_be_cancelled(server: ScriptedServer) -> None:
    sent = _send()

    answer = call_api("DELETE", f"/api/v2/email/messages/{sent.body['id']}")

    assert (answer.status, answer.reason) == (409, "not_cancellable")
    assert _status(sent.body["id"]).body["status"] == "sent"


def test_send_at_more_than_30_days_ahead(server: ScriptedServer, send_queue: SendQueue) -> None:
    answer = _send({**MESSAGE, "send_at": _in(timedelta(days=31))})

    assert (answer.status, answer.reason) == (400, "invalid_send_at")
    assert send_queue.waiting() == 0


# --- staging ---------------------------------------------------------------------------------


def test_a_request_too_big_for_sqs_waits_in_s3(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    content = bytes(range(256)) * (INLINE_LIMIT_BYTES // 256 + 1)
    attachment = {"name": "big.bin", "content": base64.b64encode(content).decode()}
    answer = _send({**MESSAGE, "attachments": [attachment]}, query="async=true")
    assert answer.status == 202, answer.body
    assert len(send_queue.staged()) == 1

    send_queue.run_worker()

    assert _status(answer.body["id"]).body["status"] == "sent"
    (part,) = server.messages[0].parsed().iter_attachments()
    assert part.get_content() == content
    assert send_queue.staged() == []


# ---------------------------------------------------------------------------------------------


def _job(accepted: dict[str, Any], *, request: dict[str, Any]) -> Job:
    """The job the API queued for `request` (still delayed in SQS, so made again here)."""
    record = runtime.message_repository().get(accepted["id"])
    service = runtime.service_repository().by_name(record.service)
    message = compose(
        parse_send_request(request), service, now=datetime.now(UTC), size_limit=10**6
    ).model_copy(update={"message_id": record.message_id})
    return Job(
        id=record.id,
        service=record.service,
        key_id=record.key_id,
        send_at=record.send_at,
        message=message,
    )


def _wait_for_messages(send_queue: SendQueue, *, seconds: float = 5) -> list[Any]:
    """Receive until a delayed message comes due (moto keeps SQS delays in real time)."""
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        messages = send_queue.receive()
        if messages:
            return messages
        time.sleep(0.2)
    raise AssertionError("no message came due")


def test_a_message_reached_too_late_in_a_batch_goes_to_the_next_invocation(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    answer = _send(MESSAGE, query="async=true")
    job = _job(answer.body, request=MESSAGE)

    # Earlier messages of the batch left this invocation almost no time.
    outcome = runtime.courier().process(job, Deadline.after(0.1))

    assert outcome == Hop(0)
    assert server.transactions == []
    record = _status(answer.body["id"]).body
    assert (record["status"], record["attempts"]) == ("queued", 0)


# --- the queue refusing ----------------------------------------------------------------------


def test_a_job_sqs_refuses_leaves_no_queued_record(
    server: ScriptedServer, send_queue: SendQueue, configure: Callable[..., None]
) -> None:
    """moto's SQS refuses SendMessage (the queue is gone) after the record is written: the
    caller gets a 503 naming the record, which is settled `failed` (`enqueue_failed`), not
    left `queued` for 30 days; sending again once the queue is back delivers it once."""
    configure(SEND_QUEUE_URL=send_queue.url.replace("email-api-send", "no-such-queue"))

    refused = _send(query="async=true")

    assert refused.status == 503, refused.body
    assert refused.body["error"]["reason"] == "enqueue_failed"
    record = _status(refused.body["error"]["context"]["id"]).body
    assert (record["status"], record["reason"]) == ("failed", "enqueue_failed")

    configure(SEND_QUEUE_URL=send_queue.url)
    again = _send(query="async=true")
    assert again.status == 202, again.body
    send_queue.drain()
    assert len(server.messages) == 1
    assert _status(again.body["id"]).body["status"] == "sent"
