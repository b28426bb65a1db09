"""Retries by class through moto's SQS and the worker, against servers that fail on purpose:
transient replies come back and succeed, permanent ones fail with the server's reply, and no
SQS redelivery makes a second SMTP transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

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
    assert (failure.mail_from or failure.data or "?") in deferred["smtp_reply"]

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
    assert "550 5.7.1 Sender not allowed" in failed["smtp_reply"]
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
    assert "535" in failed["smtp_reply"]
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
    assert "421 4.7.0 Try again later" in failed["smtp_reply"]
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
