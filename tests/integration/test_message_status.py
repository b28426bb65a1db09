"""What a status lookup shows of a sent message: the provider's `reply` (also under its
earlier name `smtp_reply`, for existing clients) and `provider_message_id`; and a record an
earlier version wrote, with `smtp_reply` only, still shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from core import runtime
from core.delivery.message_record import MessageRecord, Status
from core.settings import get_settings
from core.storage import dynamodb
from tests.support.api import call_api, create_plain_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

MESSAGE = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}
# What the capture server answers the final dot with (local_stack.smtp.capture.ACCEPTED): it
# names no queue id, so the provider's id is none.
CAPTURE_REPLY = "250 2.0.0 OK: queued"


def _status(record_id: str) -> dict[str, Any]:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    shown: dict[str, Any] = answer.body
    return shown


def test_a_message_sent_at_once_shows_the_servers_reply(server: CaptureServer) -> None:
    sent = call_api("POST", "/api/v2/email", MESSAGE)
    assert sent.status == 200, sent.body

    shown = _status(sent.body["id"])

    assert (shown["status"], shown["reply"], shown["provider_message_id"]) == (
        "sent",
        CAPTURE_REPLY,
        None,
    )
    assert shown["smtp_reply"] == shown["reply"]


def test_a_queued_message_shows_the_servers_reply(
    server: CaptureServer, send_queue: SendQueue
) -> None:
    queued = call_api("POST", "/api/v2/email", MESSAGE, query="async=true")
    assert queued.status == 202, queued.body

    send_queue.drain()

    shown = _status(queued.body["id"])
    assert (shown["status"], shown["reply"], shown["smtp_reply"]) == (
        "sent",
        CAPTURE_REPLY,
        CAPTURE_REPLY,
    )
    assert shown["provider_message_id"] is None
    assert server.only_message.rcpt_tos == ["john@example.com"]


@pytest.mark.parametrize("queued", [False, True], ids=["at-once", "queued"])
def test_a_message_a_server_named_shows_the_servers_id(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue, queued: bool
) -> None:
    # Postfix's way of naming the id it queued the message under.
    reply = "250 2.0.0 Ok: queued as 4ZxYz1AbcDz"
    create_plain_service(smtp_server(accepted=reply).port)

    answer = call_api("POST", "/api/v2/email", MESSAGE, query="async=true" if queued else "")
    assert answer.status == (202 if queued else 200), answer.body
    send_queue.drain()

    shown = _status(answer.body["id"])
    assert (shown["status"], shown["reply"], shown["provider_message_id"]) == (
        "sent",
        reply,
        "4ZxYz1AbcDz",
    )


def test_a_record_an_earlier_version_wrote_still_shows_its_reply(server: CaptureServer) -> None:
    # As an earlier version stored it: the reply under `smtp_reply`, no `reply` attribute.
    repository = runtime.message_repository()
    record = repository.create(
        MessageRecord(
            id="0" * 32,
            service="email",
            key_id="admin",
            message_id="<old@example.com>",
            status=Status.SENT,
            recipients=["john@example.com"],
            accepted=["john@example.com"],
        )
    )
    table = dynamodb().Table(get_settings().messages_table)
    table.update_item(
        Key={"id": record.id},
        UpdateExpression="SET smtp_reply = :reply",
        ExpressionAttributeValues={":reply": "250 2.0.0 Ok: queued as 1A2B3C"},
    )

    shown = _status(record.id)

    assert (shown["reply"], shown["smtp_reply"]) == ("250 2.0.0 Ok: queued as 1A2B3C",) * 2
    assert shown["provider_message_id"] is None


def test_settling_a_record_an_earlier_version_wrote_drops_its_smtp_reply() -> None:
    # Deferred by an earlier version (its reply under `smtp_reply`), sent by this one.
    repository = runtime.message_repository()
    record = repository.create(
        MessageRecord(
            id="1" * 32,
            service="email",
            key_id="admin",
            message_id="<old@example.com>",
            status=Status.QUEUED,
            recipients=["john@example.com"],
        )
    )
    table = dynamodb().Table(get_settings().messages_table)
    table.update_item(
        Key={"id": record.id},
        UpdateExpression="SET smtp_reply = :reply",
        ExpressionAttributeValues={":reply": "451 4.3.0 Try again later"},
    )
    assert repository.claim(record.id, lease_seconds=60) is not None

    settled = repository.settle(
        record.id,
        Status.SENT,
        reply="250 2.0.0 Ok: queued as 1A2B3C",
        provider_message_id="1A2B3C",
        accepted=["john@example.com"],
    )

    item = table.get_item(Key={"id": record.id})["Item"]
    assert "smtp_reply" not in item
    assert (item["reply"], item["provider_message_id"]) == (
        "250 2.0.0 Ok: queued as 1A2B3C",
        "1A2B3C",
    )
    assert (settled.reply, settled.provider_message_id) == (item["reply"], "1A2B3C")
