"""Issue 4's fault matrix, through the queue and the worker: a server replying each code at
each stage, dropping or resetting the connection at each stage (in the middle of the message
too), or stalling; and what a service's `unknown_outcome` makes of a broken connection after
the final dot. For every case: the final status, the number of SMTP transactions, and no
message lost (the queue ends empty and the record settled)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import LOOPBACK, Act, At, Fault, FaultServer

MAX_ATTEMPTS = 3
MESSAGE = {"to": "john@example.com", "subject": "Invoice", "body_text": "Attached."}
SETTLED = {"sent", "failed", "unknown"}

TRANSIENT_CODES = ["421", "450", "451", "452", "454"]
PERMANENT_CODES = ["535", "550", "554"]
REPLY_STAGES = [At.GREETING, At.MAIL, At.RCPT, At.DATA, At.END_OF_DATA]
DROP_STAGES_BEFORE_THE_DOT = [At.GREETING, At.MAIL, At.RCPT, At.DATA]


@pytest.fixture
def deliver_through(
    send_queue: SendQueue, configure: Callable[..., None]
) -> Callable[..., dict[str, Any]]:
    """Queue one message for `server` (a service with `config` on top), run the worker until
    the queue is empty, return the message's record."""
    # Generous: only the stall cases wait for the timeout, and they shorten it themselves.
    configure(MAX_ATTEMPTS=str(MAX_ATTEMPTS), SMTP_TIMEOUT_SECONDS="5")

    def run(server: FaultServer, **config: Any) -> dict[str, Any]:
        create_service(
            {
                "host": LOOPBACK,
                "port": server.port,
                "encryption": "none",
                "from_email": "a@x.org",
                **config,
            }
        )
        queued = call_api("POST", "/api/v2/email", MESSAGE, query="async=true")
        assert queued.status == 202, queued.body
        for _ in range(MAX_ATTEMPTS + 2):
            if not send_queue.run_worker().received:
                break
        assert send_queue.receive() == []  # nothing left behind: settled, not lost
        record: dict[str, Any] = call_api("GET", f"/api/v2/email/messages/{queued.body['id']}").body
        assert record["status"] in SETTLED, record
        return record

    return run


def _replies(codes: list[str]) -> list[Any]:
    return [
        pytest.param(code, stage, id=f"{code}-at-{stage.name.lower()}")
        for code in codes
        for stage in REPLY_STAGES
    ]


TRANSIENT_REPLIES = _replies(TRANSIENT_CODES)
PERMANENT_REPLIES = _replies(PERMANENT_CODES)


@pytest.mark.parametrize(
    ("code", "stage"),
    TRANSIENT_REPLIES,
)
def test_a_server_that_keeps_deferring_uses_every_attempt(
    deliver_through: Callable[..., dict[str, Any]], code: str, stage: At
) -> None:
    with FaultServer(Fault.answer(stage, f"{code} 4.0.0 Try again later")) as server:
        record = deliver_through(server)

    assert (record["status"], record["reason"]) == ("failed", "retries_exhausted"), record
    assert record["attempts"] == MAX_ATTEMPTS
    assert code in record["reply"]
    assert len(server.sessions) == MAX_ATTEMPTS
    assert server.transactions == (0 if stage is At.GREETING else MAX_ATTEMPTS)
    assert server.delivered == []


@pytest.mark.parametrize(
    ("code", "stage"),
    TRANSIENT_REPLIES,
)
def test_a_server_that_recovers_gets_the_message_on_the_next_attempt(
    deliver_through: Callable[..., dict[str, Any]], code: str, stage: At
) -> None:
    fault = Fault.answer(stage, f"{code} 4.0.0 Try again later")
    with FaultServer(fault, faulty_sessions=1) as server:
        record = deliver_through(server)

    assert (record["status"], record["attempts"]) == ("sent", 2), record
    assert record["accepted"] == ["john@example.com"]
    assert len(server.delivered) == 1


@pytest.mark.parametrize(
    ("code", "stage"),
    PERMANENT_REPLIES,
)
def test_a_permanent_refusal_fails_at_once_with_the_servers_reply(
    deliver_through: Callable[..., dict[str, Any]], code: str, stage: At
) -> None:
    with FaultServer(Fault.answer(stage, f"{code} 5.0.0 No")) as server:
        record = deliver_through(server)

    assert (record["status"], record["attempts"]) == ("failed", 1), record
    assert record["reason"] != "retries_exhausted"
    assert code in record["reply"]
    assert len(server.sessions) == 1
    assert server.transactions == (0 if stage is At.GREETING else 1)


@pytest.mark.parametrize("stage", DROP_STAGES_BEFORE_THE_DOT, ids=lambda s: s.name.lower())
def test_a_connection_dropped_before_the_dot_is_retried(
    deliver_through: Callable[..., dict[str, Any]], stage: At
) -> None:
    with FaultServer(Fault.drop(stage), faulty_sessions=1) as server:
        record = deliver_through(server)

    assert (record["status"], record["attempts"]) == ("sent", 2), record
    assert len(server.delivered) == 1


@pytest.mark.parametrize(
    "fault",
    [
        # The client wrote the message and its dot; the server closed without reading them.
        pytest.param(Fault.drop(At.MESSAGE), id="closed-with-the-message-unread"),
        pytest.param(Fault.reset(At.MESSAGE), id="aborted-with-the-message-unread"),
        # The server read a little of it, then aborted: the client may still be writing.
        pytest.param(Fault.reset(At.MESSAGE, after_bytes=100), id="aborted-mid-message"),
    ],
)
def test_a_connection_reset_before_the_server_read_the_dot_is_retried(
    deliver_through: Callable[..., dict[str, Any]], fault: Fault
) -> None:
    with FaultServer(fault, faulty_sessions=1) as server:
        record = deliver_through(server)

    # The RST says the server never read the whole message: resending cannot duplicate it.
    assert (record["status"], record["attempts"]) == ("sent", 2), record
    assert [session.message_arrived for session in server.sessions] == [False, True]
    assert len(server.delivered) == 1


def test_a_connection_dropped_after_the_dot_is_unknown_and_never_resent(
    deliver_through: Callable[..., dict[str, Any]],
) -> None:
    with FaultServer(Fault.drop(At.END_OF_DATA)) as server:
        record = deliver_through(server)

    assert (record["status"], record["reason"]) == ("unknown", "smtp_outcome_unknown"), record
    assert record["attempts"] == 1
    assert server.transactions == 1


@pytest.mark.parametrize("act", [Act.DROP, Act.STALL], ids=["closed", "silent"])
def test_an_unknown_outcome_is_resent_when_the_service_asks(
    deliver_through: Callable[..., dict[str, Any]], configure: Callable[..., None], act: Act
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="1")
    with FaultServer(Fault(At.END_OF_DATA, act), faulty_sessions=1) as server:
        record = deliver_through(server, unknown_outcome="retry")

    assert (record["status"], record["attempts"]) == ("sent", 2), record
    # At least once: the first copy reached the server too, and may go out as well.
    assert [session.message_arrived for session in server.sessions] == [True, True]
    assert len(server.delivered) == 1


def test_an_unknown_outcome_resent_stays_within_max_attempts(
    deliver_through: Callable[..., dict[str, Any]],
) -> None:
    with FaultServer(Fault.drop(At.END_OF_DATA)) as server:
        record = deliver_through(server, unknown_outcome="retry")

    # Out of attempts, and the last one may have gone: `unknown`, not `failed`.
    assert (record["status"], record["reason"]) == ("unknown", "smtp_outcome_unknown"), record
    assert record["attempts"] == MAX_ATTEMPTS
    assert server.transactions == MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("later", "attempts"),
    [
        pytest.param(Fault.answer(At.RCPT, "550 5.1.1 no such user"), 2, id="then-refused"),
        pytest.param(Fault.answer(At.MAIL, "451 4.3.0 busy"), MAX_ATTEMPTS, id="then-deferred"),
    ],
)
def test_a_resent_unknown_never_ends_failed(
    deliver_through: Callable[..., dict[str, Any]], later: Fault, attempts: int
) -> None:
    """The first copy may be out: a later refusal must not report the message as not sent."""
    with FaultServer(Fault.drop(At.END_OF_DATA), faulty_sessions=1, then=(later,)) as server:
        record = deliver_through(server, unknown_outcome="retry")

    assert (record["status"], record["attempts"]) == ("unknown", attempts), record
    assert record["may_have_gone"] is True
    assert server.sessions[0].message_arrived


@pytest.mark.parametrize("stage", [At.GREETING, At.MAIL, At.DATA], ids=lambda s: s.name.lower())
def test_a_server_that_stalls_before_the_dot_is_retried(
    deliver_through: Callable[..., dict[str, Any]],
    configure: Callable[..., None],
    stage: At,
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="1")
    with FaultServer(Fault.stall(stage), faulty_sessions=1) as server:
        record = deliver_through(server)

    assert (record["status"], record["attempts"]) == ("sent", 2), record
    assert len(server.delivered) == 1


def test_a_server_that_stalls_after_the_dot_is_unknown(
    deliver_through: Callable[..., dict[str, Any]], configure: Callable[..., None]
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="1")
    with FaultServer(Fault.stall(At.END_OF_DATA)) as server:
        record = deliver_through(server)

    assert (record["status"], record["attempts"]) == ("unknown", 1), record
    assert server.transactions == 1


def test_a_sent_message_keeps_the_servers_answer(
    deliver_through: Callable[..., dict[str, Any]],
) -> None:
    with FaultServer() as server:
        record = deliver_through(server)

    assert (record["status"], record["reply"]) == ("sent", "250 2.0.0 OK: queued")
