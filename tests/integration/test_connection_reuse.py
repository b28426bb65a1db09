"""One SMTP connection per service, kept between messages: through the API and the worker,
against real servers on loopback, counting the sessions they saw. A kept connection the server
closed meanwhile is replaced and the message arrives once; nothing is resent after the dot."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from core import runtime
from tests.support.api import ApiResponse, call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import (
    LOOPBACK,
    MESSAGE_DATA,
    At,
    CaptureServer,
    Fault,
    FaultServer,
    InTransaction,
    without_chunking,
)

pytestmark = pytest.mark.usefixtures("aws")


def _send(subject: str, **options: Any) -> ApiResponse:
    body = {"to": "john@example.com", "subject": subject, "body_text": "Hi"}
    return call_api("POST", "/api/v2/email", body, **options)


def _plain_service(port: int, **config: Any) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": port,
            "encryption": "none",
            "from_email": "noreply@example.com",
            **config,
        }
    )


def _one_connection_service(port: int) -> None:
    """A service whose queued batch goes over one connection (one lane: each message's
    envelope behind the previous one's dot). Several: tests/integration/test_worker_lanes.py."""
    _plain_service(port, max_connections=1)


def _subjects(server: CaptureServer) -> list[str]:
    return [str(message.parsed()["Subject"]) for message in server.messages]


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    """Starts FaultServers; the kept connections close before the servers stop."""
    servers: list[FaultServer] = []

    def start(**options: Any) -> FaultServer:
        server = FaultServer(**options).__enter__()
        servers.append(server)
        return server

    yield start
    runtime.transport_pool().close_all()
    for server in servers:
        server.__exit__(None, None, None)


# --- the API -----------------------------------------------------------------------------------


def test_sync_sends_share_one_session(server: CaptureServer) -> None:
    answers = [_send(subject) for subject in ("one", "two", "three")]

    assert [answer.status for answer in answers] == [200, 200, 200], answers[-1].body
    assert _subjects(server) == ["one", "two", "three"]
    assert server.sessions == 1


def test_without_reuse_every_send_has_a_session(
    server: CaptureServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_REUSE_CONNECTIONS="false")

    answers = [_send(subject) for subject in ("one", "two", "three")]

    assert [answer.status for answer in answers] == [200, 200, 200], answers[-1].body
    assert server.sessions == 3


def test_a_connection_carries_at_most_its_cap(
    server: CaptureServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_MAX_MESSAGES_PER_CONNECTION="2")

    for subject in ("one", "two", "three"):
        assert _send(subject).status == 200

    assert _subjects(server) == ["one", "two", "three"]
    assert server.sessions == 2


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault.drop(At.MAIL), id="closed"),
        pytest.param(Fault.answer(At.MAIL, "421 4.4.2 Idle too long, closing"), id="421"),
    ],
)
def test_a_kept_connection_the_server_closed_is_replaced_and_the_message_arrives_once(
    fault_server: Callable[..., FaultServer], fault: Fault
) -> None:
    # Closed as MAIL arrives: with CHUNKING the message would have gone with it (a server that
    # closes while idle, before the next message is written, is noticed: see
    # test_transport_pipelining.py).
    server = fault_server(script=InTransaction(fault), extensions=without_chunking())
    _plain_service(server.port)

    answers = [_send(subject) for subject in ("one", "two")]

    assert [answer.status for answer in answers] == [200, 200], answers[-1].body
    first, second = server.sessions
    assert (first.transactions, len(first.arrivals)) == (2, 1)  # the second MAIL met the close
    assert (second.transactions, len(second.arrivals)) == (1, 1)
    assert [a.delivered for a in server.delivered] == [True, True]
    assert [b"Subject: two" in a.data for a in server.delivered] == [False, True]


def test_a_kept_connection_lost_after_the_dot_is_not_resent(
    fault_server: Callable[..., FaultServer],
) -> None:
    server = fault_server(script=InTransaction(Fault.drop(At.END_OF_DATA)))
    _plain_service(server.port)
    assert _send("one").status == 200

    unknown = _send("two")

    assert unknown.reason == "smtp_outcome_unknown", unknown.body
    session = server.only_session  # no second connection: the server may have it
    assert session.transactions == 2
    assert [arrival.answer is not None for arrival in session.arrivals] == [True, False]
    assert _send("three").status == 200  # the next message opens a new connection
    assert len(server.sessions) == 2


def test_a_new_password_is_used_on_a_new_session(
    fault_server: Callable[..., FaultServer],
) -> None:
    server = fault_server()
    _plain_service(server.port, username="mailer", password="old-password")
    assert _send("one").status == 200

    patched = call_api(
        "PATCH", "/api/v2/system/service/email", {"config": {"password": "new-password"}}
    )
    assert patched.status == 200, patched.body
    assert _send("two").status == 200
    assert _send("three").status == 200

    assert [session.transactions for session in server.sessions] == [1, 2]
    assert [_password(session.commands) for session in server.sessions] == [
        "old-password",
        "new-password",
    ]


def _password(commands: list[str]) -> str:
    """The password an `AUTH PLAIN <initial response>` carried."""
    (auth,) = [command for command in commands if command.upper().startswith("AUTH PLAIN ")]
    _authzid, _login, password = base64.b64decode(auth.split()[2]).decode().split("\0")
    return password


# --- the worker --------------------------------------------------------------------------------


def test_a_worker_batch_shares_one_session_and_leaves_it_clean(
    fault_server: Callable[..., FaultServer], send_queue: SendQueue
) -> None:
    server = fault_server()
    _one_connection_service(server.port)
    for subject in ("one", "two", "three"):
        assert _send(subject, query="async=true").status == 202

    run = send_queue.run_worker()

    assert (len(run.received), run.failed) == (3, set())
    session = server.only_session
    assert len(session.arrivals) == 3
    assert all(arrival.delivered for arrival in session.arrivals)
    # Every MAIL was followed through to its verdict, then the connection closed with the
    # batch: a worker frozen between invocations keeps none its connection slot does not cover.
    assert session.verbs[-2:] in (["DATA", "QUIT"], ["BDAT", "QUIT"])
    assert session.transactions == len(session.arrivals)
    assert runtime.transport_pool().idle_count() == 0

    # The next invocation opens one of its own, under the slot it takes.
    assert _send("four", query="async=true").status == 202
    assert send_queue.run_worker().failed == set()
    assert len(server.sessions) == 2
    assert len(server.sessions[1].arrivals) == 1


def _queue_three() -> dict[str, str]:
    """Three messages accepted for the queue: subject -> record id."""
    ids = {}
    for subject in ("one", "two", "three"):
        queued = _send(subject, query="async=true")
        assert queued.status == 202, queued.body
        ids[subject] = str(queued.body["id"])
    return ids


def _statuses(ids: dict[str, str]) -> list[str]:
    return sorted(
        str(call_api("GET", f"/api/v2/email/messages/{record}").body["status"])
        for record in ids.values()
    )


def test_a_worker_batch_writes_each_envelope_behind_the_previous_dot(
    fault_server: Callable[..., FaultServer], send_queue: SendQueue
) -> None:
    # Each reply waits a moment, so the flights show what the client wrote without waiting.
    server = fault_server(extensions=("PIPELINING",), reply_delay=0.05)
    _one_connection_service(server.port)
    _queue_three()

    run = send_queue.run_worker()

    assert (len(run.received), run.failed) == (3, set())
    envelope = ["MAIL", "RCPT", "DATA"]
    assert server.only_session.flights == [
        ["EHLO"],
        envelope,
        [MESSAGE_DATA, *envelope],
        [MESSAGE_DATA, *envelope],
        [MESSAGE_DATA],
        ["QUIT"],  # the batch is over: its connection closes
    ]
    assert len(server.delivered) == 3


@pytest.mark.parametrize(
    ("fault", "transaction", "statuses"),
    [
        pytest.param(
            Fault.answer(At.END_OF_DATA, "451 4.3.0 Try later"),
            1,
            ["sent", "sent", "sent"],
            id="451-to-the-first-dot",
        ),
        pytest.param(
            Fault.answer(At.END_OF_DATA, "554 5.7.1 Spam"),
            1,
            ["failed", "sent", "sent"],
            id="554-to-the-first-dot",
        ),
        # Closed or reset once the next envelope was behind the dot: the server may have it.
        pytest.param(Fault.drop(At.END_OF_DATA), 1, ["sent", "sent", "unknown"], id="drop"),
        pytest.param(Fault.reset(At.END_OF_DATA), 1, ["sent", "sent", "unknown"], id="reset"),
        # Before the second message's text: it goes again on a new connection.
        pytest.param(
            Fault.answer(At.MAIL, "421 4.4.2 Closing"),
            2,
            ["sent", "sent", "sent"],
            id="421-to-the-announced-mail",
        ),
        pytest.param(
            Fault.answer(At.DATA, "451 4.3.0 Not now"),
            2,
            ["sent", "sent", "sent"],
            id="451-to-the-announced-data",
        ),
    ],
)
def test_a_fault_in_a_pipelined_worker_batch_loses_nothing_and_sends_nothing_twice(
    fault_server: Callable[..., FaultServer],
    send_queue: SendQueue,
    fault: Fault,
    transaction: int,
    statuses: list[str],
) -> None:
    server = fault_server(
        script=InTransaction(fault, number=transaction),
        extensions=("PIPELINING",),
        reply_delay=0.05,
    )
    _one_connection_service(server.port)
    ids = _queue_three()

    runs = send_queue.drain()

    assert runs >= 1
    assert send_queue.receive() == []  # every message settled
    assert _statuses(ids) == statuses
    delivered = [arrival.data for arrival in server.delivered]
    assert len(delivered) == statuses.count("sent")
    assert len(set(delivered)) == len(delivered)  # none twice


def test_a_job_of_the_batch_whose_store_fails_comes_back_alone(
    fault_server: Callable[..., FaultServer],
    send_queue: SendQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = fault_server(extensions=("PIPELINING",))
    _one_connection_service(server.port)  # "two" is announced behind "one"'s dot
    ids = _queue_three()
    records = runtime.message_repository()
    claim = records.claim

    def claim_but_two(record_id: str, lease_seconds: int, *, at: Any = None) -> Any:
        if record_id == ids["two"]:
            raise ConnectionError("DynamoDB did not answer")
        return claim(record_id, lease_seconds, at=at)

    monkeypatch.setattr(records, "claim", claim_but_two)
    run = send_queue.run_worker()

    assert len(run.failed) == 1  # that record alone is a batch item failure
    assert _statuses(ids) == ["queued", "sent", "sent"]

    monkeypatch.undo()
    assert send_queue.drain() >= 1
    assert _statuses(ids) == ["sent", "sent", "sent"]
    assert len(server.delivered) == 3
