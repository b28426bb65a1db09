"""The outbox through moto and the worker: a record holds its job exactly as SQS gets it until
a worker claims it; a request that dies between the record and SendMessage leaves the job to
the repair function, which queues it again once, and the message is delivered once."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from core import runtime
from core.settings import get_settings
from local_stack.apigateway import LocalLambdaContext
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.events import load_event
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, ScriptedServer

MESSAGE = {"to": ["john@example.com"], "subject": "Hi", "body_text": "Hi"}
OUTBOX = {"outbox", "outbox_shard", "outbox_due"}


class Killed(BaseException):
    """The request's process dies on its way to SQS: no handler of ours runs after it."""


@pytest.fixture
def server(send_queue: SendQueue) -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        create_service(
            {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@x.org"}
        )
        yield server


def _send(**options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", MESSAGE, query="async=true", **options)


def _item(record_id: str) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(get_settings().messages_table)
    item: dict[str, Any] = table.get_item(Key={"id": record_id}, ConsistentRead=True)["Item"]
    return item


def _die_before_sendmessage() -> None:
    """A fault hook on the SQS client (the enqueue is not under test; the record's fate is)."""

    def die(**_: Any) -> None:
        raise Killed

    runtime.message_queue().sqs.meta.events.register("before-call.sqs.SendMessage", die)


def _time_passes(record_id: str, seconds: int) -> None:
    """The record's job became due `seconds` earlier (rather than sleeping through a grace)."""
    table = boto3.resource("dynamodb").Table(get_settings().messages_table)
    table.update_item(
        Key={"id": record_id},
        UpdateExpression="SET outbox_due = outbox_due - :s",
        ExpressionAttributeValues={":s": seconds},
    )


def _repair() -> dict[str, Any]:
    from handlers import repair

    answer: dict[str, Any] = repair.lambda_handler(
        load_event("repair-schedule.json"), LocalLambdaContext().typed()
    )
    return answer


def test_the_record_holds_the_job_as_sqs_got_it_until_claimed(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    """The outbox is the very SQS body; the worker's claim removes it and the index keys."""
    answer = _send()
    assert answer.status == 202, answer.body
    (message,) = send_queue.receive()

    held = _item(answer.body["id"])
    assert json.loads(held["outbox"]) == json.loads(message["Body"])
    assert held["outbox_shard"] == answer.body["id"][0]

    send_queue.run_worker([message])
    assert OUTBOX.isdisjoint(_item(answer.body["id"]))
    assert _item(answer.body["id"])["status"] == "sent"


def test_a_request_that_died_before_sqs_is_repaired_and_delivered_once(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    """Killed between writing the record and SendMessage: nothing is queued and the record
    says `queued`. Within the grace the repair leaves it; past it, the scheduled function
    (invoked with its event) queues the job again, and the worker delivers it once."""
    _die_before_sendmessage()
    with pytest.raises(Killed):
        _send()
    runtime.reset()  # the next request and the repair run in other containers
    (item,) = boto3.resource("dynamodb").Table(get_settings().messages_table).scan()["Items"]
    record_id = str(item["id"])
    assert (item["status"], send_queue.waiting()) == ("queued", 0)

    assert _repair() == {"requeued": 0}
    _time_passes(record_id, get_settings().outbox_grace_seconds + 1)
    assert _repair() == {"requeued": 1}
    assert _repair() == {"requeued": 0}

    send_queue.drain()
    assert len(server.messages) == 1
    record = _item(record_id)
    assert (record["status"], record["attempts"]) == ("sent", 1)
    assert OUTBOX.isdisjoint(record)


def test_a_late_original_and_its_repaired_copy_send_once(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    """The job reached SQS but sat past the grace (say a worker outage): the repair adds a
    copy; with both in the queue the message is still sent once."""
    answer = _send()
    _time_passes(answer.body["id"], get_settings().outbox_grace_seconds + 1)
    assert _repair() == {"requeued": 1}
    assert send_queue.waiting() == 2

    send_queue.drain()

    assert len(server.messages) == 1
    assert _item(answer.body["id"])["status"] == "sent"


def test_an_idempotency_key_retry_after_the_request_died_sends_once(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    """The request with an Idempotency-Key died before SQS: Powertools' record stays
    INPROGRESS (a 409 to a retry) until the dead Lambda's time is up. A retry after that runs
    the send again: its record id is derived from the key and caller, so it finds the first
    record and answers it (202, the same id) rather than queue a second message; the repair
    queues the first one's job, and the message goes out once."""
    _die_before_sendmessage()
    key = {"headers": {"Idempotency-Key": "order-7"}}
    with pytest.raises(Killed):
        _send(**key)
    runtime.reset()

    in_progress = _send(**key)
    assert (in_progress.status, in_progress.reason) == (409, "idempotency_in_progress")

    idempotency = boto3.resource("dynamodb").Table(get_settings().idempotency_table)
    (entry,) = idempotency.scan()["Items"]
    idempotency.update_item(
        Key={"id": entry["id"]},
        UpdateExpression="SET in_progress_expiration = :past",
        ExpressionAttributeValues={":past": 1},
    )
    retried = _send(**key)
    assert retried.status == 202, retried.body

    (item,) = boto3.resource("dynamodb").Table(get_settings().messages_table).scan()["Items"]
    assert retried.body["id"] == item["id"]
    _time_passes(str(item["id"]), get_settings().outbox_grace_seconds + 1)
    _repair()
    send_queue.drain()
    assert len(server.messages) == 1
    assert _item(str(item["id"]))["status"] == "sent"


def test_an_idempotency_key_retry_after_a_503_queues_the_message(
    server: ScriptedServer, send_queue: SendQueue, configure: Any
) -> None:
    """A 503 (the queue refused the job) settles the record `failed`; the caller sends again
    with the same key, as told, and the message is queued under the same id and sent once."""
    configure(SEND_QUEUE_URL=send_queue.url.replace("email-api-send", "no-such-queue"))
    key = {"headers": {"Idempotency-Key": "order-8"}}
    refused = _send(**key)
    assert (refused.status, refused.reason) == (503, "enqueue_failed")

    configure(SEND_QUEUE_URL=send_queue.url)
    retried = _send(**key)

    assert retried.status == 202, retried.body
    assert retried.body["id"] == refused.body["error"]["context"]["id"]
    send_queue.drain()
    assert len(server.messages) == 1
    assert _item(retried.body["id"])["status"] == "sent"


def test_a_message_of_some_size_waits_in_s3_and_the_record_holds_a_pointer(
    server: ScriptedServer, send_queue: SendQueue
) -> None:
    """A 60 KB attachment fits SQS but not a cheap record: it is staged in S3 before the
    record is written, the record's outbox is the small job naming it, and once sent the
    staged copy is gone."""
    content = base64.b64encode(b"\x00" * 60_000).decode()
    answer = call_api(
        "POST",
        "/api/v2/email",
        {**MESSAGE, "attachments": [{"name": "a.bin", "content": content}]},
        query="async=true",
    )
    assert answer.status == 202, answer.body
    held = _item(answer.body["id"])
    assert len(str(held["outbox"])) < 1_000
    assert json.loads(str(held["outbox"]))["staged_message"] in send_queue.staged()

    send_queue.drain()

    assert _item(answer.body["id"])["status"] == "sent"
    assert len(server.messages) == 1
    assert send_queue.staged() == []
