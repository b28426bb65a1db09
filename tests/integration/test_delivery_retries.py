"""Retries by class through moto's SQS and the worker, against servers that fail on purpose:
transient replies come back and succeed, permanent ones fail with the server's reply, and no
SQS redelivery makes a second SMTP transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from core.delivery.job import FRESH_COPY_AFTER_RECEIVES
from core.settings import get_settings
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import (
    LOOPBACK,
    At,
    CaptureServer,
    Fault,
    FaultServer,
    Replies,
    ScriptedServer,
    without_chunking,
)

MESSAGE = {"to": ["john@example.com", "jane@example.com"], "subject": "Hi", "body_text": "Hi"}


@pytest.fixture
def scripted(send_queue: SendQueue) -> Iterator[Callable[..., ScriptedServer]]:
    """Starts a server answering as scripted, and makes it the `email` service."""
    servers: list[ScriptedServer] = []

    def start(*script: Replies, **config: Any) -> ScriptedServer:
        server = ScriptedServer(script).__enter__()
        servers.append(server)
        create_service(
            {
                "host": LOOPBACK,
                "port": server.port,
                "encryption": "none",
                "from_email": "a@x.org",
                **config,
            }
        )
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _queue(body: dict[str, Any] | None = None) -> str:
    answer = call_api("POST", "/api/v2/email", body or MESSAGE, query="async=true")
    assert answer.status == 202, answer.body
    record_id: str = answer.body["id"]
    return record_id


def _record(record_id: str) -> dict[str, Any]:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body
    return record


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(Replies(mail_from="421 4.7.0 Try again later"), id="421-at-mail"),
        pytest.param(Replies(mail_from="451 4.3.0 Local problem"), id="451-at-mail"),
        pytest.param(Replies(data="421 4.7.0 Closing"), id="421-at-data"),
        pytest.param(Replies(data="451 4.3.0 Local problem"), id="451-at-data"),
    ],
)
def test_a_transient_failure_is_deferred_then_sent(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue, failure: Replies
) -> None:
    server = scripted(failure)
    record_id = _queue()

    first = send_queue.run_worker()

    assert len(first.failed) == 1  # left in the queue, to come back
    deferred = _record(record_id)
    assert (deferred["status"], deferred["attempts"]) == ("deferred", 1)
    assert (failure.mail_from or failure.data or "?") in deferred["reply"]

    send_queue.run_worker()

    sent = _record(record_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert sent["accepted"] == MESSAGE["to"]
    assert len(server.transactions) == 2
    assert len(server.messages) == 1
    assert send_queue.waiting() == 0


def test_a_permanent_refusal_fails_with_the_servers_reply(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue
) -> None:
    server = scripted(Replies(mail_from="550 5.7.1 Sender not allowed"))
    record_id = _queue()

    send_queue.drain()

    failed = _record(record_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["reason"] == "smtp_rejected"
    assert "550 5.7.1 Sender not allowed" in failed["reply"]
    assert len(server.transactions) == 1


def test_bad_credentials_fail_at_once(
    smtp_server: Callable[..., CaptureServer], send_queue: SendQueue
) -> None:
    server = smtp_server(credentials=("mailer", "right"))
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "a@x.org",
            "username": "mailer",
            "password": "wrong",
        }
    )
    record_id = _queue()

    send_queue.drain()

    failed = _record(record_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["reason"] == "smtp_auth_failed"
    assert "535" in failed["reply"]
    assert server.sessions == 1  # smtplib tries each AUTH mechanism, in one session
    assert not any(attempt.success for attempt in server.auth_attempts)
    assert server.messages == []


def test_retries_run_out(scripted: Callable[..., ScriptedServer], send_queue: SendQueue) -> None:
    # MAX_ATTEMPTS is 3 here.
    server = scripted(*[Replies(mail_from="421 4.7.0 Try again later")] * 3)
    record_id = _queue()

    send_queue.drain()

    failed = _record(record_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 3)
    assert failed["reason"] == "retries_exhausted"
    assert "421 4.7.0 Try again later" in failed["reply"]
    assert len(server.transactions) == 3
    assert server.messages == []


def test_a_duplicate_sqs_delivery_sends_once(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue
) -> None:
    server = scripted()
    record_id = _queue()
    batch = send_queue.receive()
    # SQS delivers at least once: the same job may arrive again, in this batch or a later one.
    send_queue.sqs.send_message(QueueUrl=send_queue.url, MessageBody=batch[0]["Body"])

    send_queue.run_worker(batch)
    send_queue.drain()

    assert len(server.transactions) == 1
    assert _record(record_id)["status"] == "sent"
    assert send_queue.waiting() == 0


def test_a_452_for_some_recipients_resends_only_to_them(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue
) -> None:
    server = scripted(Replies(rcpt={"jane@example.com": "452 4.2.2 Mailbox full"}))
    record_id = _queue()

    send_queue.run_worker()

    partly = _record(record_id)
    assert (partly["status"], partly["accepted"]) == ("deferred", ["john@example.com"])
    assert list(partly["deferred"]) == ["jane@example.com"]

    send_queue.run_worker()

    assert server.recipients == [MESSAGE["to"], ["jane@example.com"]]
    done = _record(record_id)
    assert (done["status"], done["attempts"]) == ("sent", 2)
    assert done["accepted"] == ["john@example.com", "jane@example.com"]
    assert [m.rcpt_tos for m in server.messages] == [["john@example.com"], ["jane@example.com"]]


# --- provider limits -------------------------------------------------------------------------


def _send_now() -> ApiResponse:
    return call_api("POST", "/api/v2/email", MESSAGE)


def test_over_the_daily_quota_a_sync_send_is_429(
    scripted: Callable[..., ScriptedServer],
) -> None:
    server = scripted(daily_quota=1)
    assert _send_now().status == 200

    answer = _send_now()

    assert (answer.status, answer.reason) == (429, "rate_limited")
    assert int(answer.headers["Retry-After"]) > 0
    assert len(server.transactions) == 1


def test_over_the_daily_quota_a_queued_message_waits(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue
) -> None:
    server = scripted(daily_quota=1)
    assert _send_now().status == 200
    record_id = _queue()

    send_queue.run_worker(time_passes=False)

    # Back in the queue for when the quota allows: neither failed nor counted as an attempt.
    waiting = _record(record_id)
    assert (waiting["status"], waiting["attempts"]) == ("queued", 0)
    assert len(server.transactions) == 1
    assert send_queue.waiting() == 1


# --- dropped connections (the fault server) --------------------------------------------------


@pytest.fixture
def faulty(send_queue: SendQueue) -> Iterator[Callable[..., FaultServer]]:
    """Starts a fault server, and makes it the `email` service."""
    servers: list[FaultServer] = []

    def start(*faults: Fault, faulty_sessions: int | None = None, **options: Any) -> FaultServer:
        server = FaultServer(*faults, faulty_sessions=faulty_sessions, **options).__enter__()
        servers.append(server)
        create_service(
            {"host": LOOPBACK, "port": server.port, "encryption": "none", "from_email": "a@x.org"}
        )
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


# At MESSAGE the server closes with the whole message and its dot unread: an RST.
@pytest.mark.parametrize(
    "at", [At.MAIL, At.RCPT, At.DATA, At.MESSAGE], ids=lambda at: f"drop-at-{at}"
)
def test_a_drop_before_the_message_is_handed_over_is_retried(
    faulty: Callable[..., FaultServer], send_queue: SendQueue, at: At
) -> None:
    server = faulty(Fault.drop(at), faulty_sessions=1, extensions=without_chunking())
    record_id = _queue()

    send_queue.run_worker()
    assert _record(record_id)["status"] == "deferred"
    send_queue.drain()

    sent = _record(record_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert len(server.delivered) == 1


def test_a_drop_after_the_final_dot_is_unknown_and_never_resent(
    faulty: Callable[..., FaultServer], send_queue: SendQueue
) -> None:
    server = faulty(Fault.drop(At.END_OF_DATA))
    record_id = _queue()

    send_queue.drain()

    unknown = _record(record_id)
    assert (unknown["status"], unknown["attempts"]) == ("unknown", 1)
    assert unknown["reason"] == "smtp_outcome_unknown"
    assert server.transactions == 1  # the server may have it: resending could deliver twice
    assert server.only_session.message_arrived
    assert send_queue.waiting() == 0


# --- the retry window (issue 17, finding 3) -----------------------------------------------------


def _until_settled(send_queue: SendQueue, record_id: str, *, max_runs: int = 60) -> int:
    """Run the worker until the record is settled, waiting out a fresh copy's short delay
    (SQS hides a delayed message; a second at most with the tiny base here)."""
    for runs in range(1, max_runs + 1):
        if not send_queue.run_worker().received:
            time.sleep(0.25)
        if _record(record_id)["status"] not in ("queued", "deferred", "sending"):
            return runs
    raise AssertionError(f"not settled after {max_runs} runs: {_record(record_id)}")


def test_an_outage_past_the_old_budget_loses_nothing(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue, configure: Callable[..., None]
) -> None:
    """Twelve 421s in a row: more than the 8 attempts that used to fail a message for good,
    and more receives than FRESH_COPY_AFTER_RECEIVES, so the retries go on as a fresh SQS
    message (never near the dead-letter queue's 20 receives). After the outage, the message
    is delivered once."""
    configure(MAX_ATTEMPTS="0", RETRY_BASE_SECONDS="0.001", RETRY_WINDOW_MINUTES="60")
    server = scripted(*[Replies(mail_from="421 4.7.0 Try again later")] * 12)
    record_id = _queue()

    _until_settled(send_queue, record_id)

    sent = _record(record_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 13)
    assert len(server.transactions) == 13
    assert len(server.messages) == 1
    assert send_queue.waiting() == 0


def test_an_outage_past_the_window_fails_with_its_reason_and_times(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue, configure: Callable[..., None]
) -> None:
    """The service's retry window is an hour; its first attempt was (made to look) two hours
    ago: the next deferral ends it `failed`, `retries_exhausted`, saying when it first and
    last tried, and nothing more is queued."""
    configure(MAX_ATTEMPTS="0", RETRY_BASE_SECONDS="0.001")
    server = scripted(
        *[Replies(mail_from="421 4.7.0 Try again later")] * 5, retry_window_minutes=60
    )
    record_id = _queue()
    send_queue.run_worker()
    first = _record(record_id)
    assert (first["status"], first["first_tried_at"]) == ("deferred", first["last_tried_at"])
    two_hours_ago = (
        datetime.fromisoformat(first["first_tried_at"]) - timedelta(hours=2)
    ).isoformat()
    _messages_table().update_item(
        Key={"id": record_id},
        UpdateExpression="SET first_tried_at = :t",
        ExpressionAttributeValues={":t": two_hours_ago},
    )

    _until_settled(send_queue, record_id)

    failed = _record(record_id)
    assert (failed["status"], failed["reason"], failed["attempts"]) == (
        "failed",
        "retries_exhausted",
        2,
    )
    assert failed["first_tried_at"] == two_hours_ago
    assert failed["last_tried_at"] >= first["last_tried_at"]
    assert "421 4.7.0" in failed["reply"]
    assert len(server.transactions) == 2
    assert send_queue.waiting() == 0


def _messages_table() -> Any:
    return boto3.resource("dynamodb").Table(get_settings().messages_table)


def test_a_retry_after_many_receives_is_a_fresh_message(
    scripted: Callable[..., ScriptedServer], send_queue: SendQueue
) -> None:
    """A message SQS has handed out FRESH_COPY_AFTER_RECEIVES times is not returned once more
    (a receive nearer the dead-letter queue's 20) but re-sent as a fresh message with the
    retry's delay, and this copy deleted: a window of hours never dead-letters it."""
    scripted(Replies(mail_from="421 4.7.0 Try again later"))
    record_id = _queue()
    (message,) = send_queue.receive()
    message["Attributes"]["ApproximateReceiveCount"] = str(FRESH_COPY_AFTER_RECEIVES)

    run = send_queue.run_worker([message])

    assert run.failed == set()  # nothing to return: the batch deletes this copy
    assert _record(record_id)["status"] == "deferred"
    assert send_queue.waiting() == 1  # the fresh copy, delayed
    time.sleep(1.2)  # the first wait here: 1 s (a base of 0.5 s, rounded up to a second)
    (fresh,) = send_queue.receive()
    assert fresh["MessageId"] != message["MessageId"]
    assert fresh["Attributes"]["ApproximateReceiveCount"] == "1"
