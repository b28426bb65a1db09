"""What the queue carries: the message the API composed and checked, delivered as it is on
every attempt, and jobs queued by an earlier version (a request body) still delivered."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any

from core import runtime
from core.delivery.job import Job
from core.delivery.message_record import MessageRecord, Status
from tests.support.api import call_api, create_plain_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import At, CaptureServer, Fault, FaultServer

MESSAGE = {"to": ["john@example.com", "jane@example.com"], "subject": "Hi", "body_text": "Hi"}


def _queue(body: dict[str, Any]) -> dict[str, Any]:
    answer = call_api("POST", "/api/v2/email", body, query="async=true")
    assert answer.status == 202, answer.body
    accepted: dict[str, Any] = answer.body
    return accepted


def _record(record_id: str) -> dict[str, Any]:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body
    return record


def _headers(data: bytes) -> Message:
    return BytesHeaderParser().parsebytes(data)


def test_a_message_sent_on_its_third_attempt_is_the_one_first_tried(
    send_queue: SendQueue,
) -> None:
    # The server takes the whole message twice and asks to try again later, then takes it.
    with FaultServer(
        Fault.answer(At.END_OF_DATA, "451 4.3.0 Try again later"), faulty_sessions=2
    ) as server:
        create_plain_service(server.port)
        accepted = _queue(MESSAGE)

        send_queue.drain()

    record = _record(accepted["id"])
    assert (record["status"], record["attempts"]) == ("sent", 3)
    arrivals = [arrival for session in server.sessions for arrival in session.arrivals]
    assert [arrival.delivered for arrival in arrivals] == [False, False, True]
    headers = [_headers(arrival.data) for arrival in arrivals]
    # Every attempt carries the Message-ID the API answered with, and one and the same Date.
    assert {h["Message-ID"] for h in headers} == {accepted["message_id"]}
    assert len({h["Date"] for h in headers}) == 1
    assert all(h["Date"] for h in headers)


def test_a_job_queued_by_an_earlier_version_is_still_delivered(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    """Before the queue carried composed messages, a job carried the request body and the
    Message-ID: one still in the queue when the new version is deployed goes out as before."""
    record = runtime.message_repository().create(
        MessageRecord(
            id="0123456789abcdef0123456789abcdef",
            service="email",
            key_id="bootstrap",
            role="bootstrap-admin",
            message_id="<earlier@example.com>",
            status=Status.QUEUED,
            recipients=MESSAGE["to"],
        )
    )
    legacy = Job(
        id=record.id,
        service="email",
        key_id="bootstrap",
        message_id=record.message_id,
        request=MESSAGE,
    )
    runtime.message_queue().enqueue(legacy)

    send_queue.drain()

    assert _record(record.id)["status"] == "sent"
    received = server.only_message
    assert received.rcpt_tos == MESSAGE["to"]
    assert received.parsed()["Message-ID"] == "<earlier@example.com>"
    assert received.parsed()["Subject"] == "Hi"
