"""A hostile SMTP server (or anyone on the path while the session is still in clear text: the
greeting and the first EHLO are, even for `tls`) against the transport, the send route and the
connection test (issue 16, findings 3, 4 and 7).

- A reply is read within bounds: a line of at most `MAX_LINE` octets, a reply of at most
  `MAX_LINES` lines and `MAX_REPLY` octets. Past them the client stops reading, drops the
  connection and fails with `smtp_protocol_error`: its memory stays flat however much the
  server sends.
- A stage's deadline holds across a multi-line reply: a line every moment does not keep the
  client waiting past it (`smtp_timeout` before the final dot, an unknown outcome after it).
- A reply that is not the one its command is waiting for (one more `250` after a message, a
  `250` where DATA's `354` is due, a `354` to MAIL) is a protocol error that drops the
  connection; no message is settled on a reply not its own, and one that provably never left
  goes again on a new connection.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from core import runtime
from core.network.tls import client_context
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Delivery, Envelope
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpTimeout,
)
from core.transport.smtp.replies import MAX_LINE, MAX_REPLY
from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import (
    LOOPBACK,
    At,
    Fault,
    FaultServer,
    InTransaction,
    Stream,
)

pytestmark = pytest.mark.usefixtures("aws")

StartFaultServer = Callable[..., FaultServer]

SENDER, JOHN = "noreply@example.com", "john@example.com"
MESSAGE = b"From: noreply@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
MIB = 1024 * 1024
# What the server tries to send: far more than a Lambda's 512 MB would hold a few times over
# if kept, far more than the client may read.
HUGE = 50 * MIB
# What the client may read at most: its bound, what its buffered reader takes in one go, and
# the kernel's receive buffer (autotuned up to tcp_rmem's maximum, 6 MiB by default) and the
# server's send buffer, both of which fill without the client reading a byte.
READ_AT_MOST = 16 * MIB
# The client's own allocations while refusing such a reply: its bound and change.
MEMORY_AT_MOST = 2 * MIB


@pytest.fixture
def fault_server() -> Iterator[StartFaultServer]:
    """Starts FaultServers (lockstep unless told otherwise); the connections the API keeps
    close before the servers stop."""
    with ExitStack() as running:

        def start(*faults: Fault, **options: Any) -> FaultServer:
            options.setdefault("extensions", ())
            return running.enter_context(FaultServer(*faults, **options))

        yield start
        runtime.transport_pool().close_all()


def _transport(port: int) -> SmtpTransport:
    return SmtpTransport(
        SmtpEndpoint(LOOPBACK, port, Encryption.NONE),
        tls=client_context(True),
        ehlo_name="client.example.com",
    )


def _send(port: int, *, seconds: float = 5.0) -> Delivery:
    return _transport(port).send(MESSAGE, Envelope(SENDER, [JOHN]), Deadline.after(seconds))


def _send_failing(port: int, *, seconds: float = 5.0) -> SmtpFailure:
    with pytest.raises(SmtpFailure) as raised:
        _send(port, seconds=seconds)
    return raised.value


def _send_api(subject: str, **options: Any) -> ApiResponse:
    body = {"to": JOHN, "subject": subject, "body_text": "Hi"}
    return call_api("POST", "/api/v2/email", body, **options)


# --- finding 3: a reply is read within bounds ----------------------------------------------------

HUGE_REPLIES = [
    pytest.param(
        Fault.streaming(At.GREETING, "220 localhost", Stream(HUGE)), "greeting", id="greeting"
    ),
    pytest.param(Fault.streaming(At.EHLO, "250 SIZE", Stream(HUGE)), "ehlo", id="ehlo"),
    pytest.param(
        Fault.streaming(At.GREETING, "220", Stream(HUGE, line=0)),
        "greeting",
        id="one-line-greeting",
    ),
    pytest.param(Fault.streaming(At.EHLO, "250", Stream(HUGE, line=0)), "ehlo", id="one-line-ehlo"),
]


@pytest.mark.parametrize(("fault", "stage"), HUGE_REPLIES)
def test_a_huge_reply_is_read_no_further_than_its_bound(
    fault_server: StartFaultServer, fault: Fault, stage: str
) -> None:
    """The client stops reading a reply once it is over its bound (however it is cut into
    lines), with its memory flat: before, smtplib kept every line of a multi-line reply (a
    300 MB greeting took the function to 961 MB) and refused one long line as a 5xx."""
    server = fault_server(fault)

    tracemalloc.start()
    try:
        error = _send_failing(server.port)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (type(error), error.reason, error.transient) == (
        SmtpConnectFailed,
        "smtp_protocol_error",
        True,
    ), error.message
    assert error.context["stage"] == stage
    assert "smtp_code" not in error.context
    assert peak < MEMORY_AT_MOST
    session = server.only_session
    assert session.streamed < READ_AT_MOST  # the client stopped reading: the rest never went
    assert "MAIL" not in session.verbs


def test_a_reply_within_the_bounds_is_read_whole(fault_server: StartFaultServer) -> None:
    """A long EHLO answer that keeps within the bounds (lines of the most a line may be) is a
    server's, not an attack: the send goes through."""
    # A line at a time (`every`), so that no more than asked for is written.
    lines = Stream(MAX_REPLY // 2, line=MAX_LINE, every=0.001)
    server = fault_server(Fault.streaming(At.EHLO, "250 SIZE", lines))

    delivery = _send(server.port)

    assert delivery.accepted == [JOHN]
    assert len(server.delivered) == 1


@pytest.mark.parametrize(
    ("extra", "taken"),
    [pytest.param(0, True, id="at-the-bound"), pytest.param(1, False, id="over")],
)
def test_a_greeting_line_at_its_bound_is_taken_and_one_octet_more_is_not(
    fault_server: StartFaultServer, extra: int, taken: bool
) -> None:
    """The bound counts the whole line, code and CRLF included, as RFC 5321 counts its 512."""
    greeting = "220 " + "x" * (MAX_LINE - len("220 \r\n") + extra)
    server = fault_server(Fault.answer(At.GREETING, greeting))

    if taken:
        assert _send(server.port).accepted == [JOHN]
    else:
        assert _send_failing(server.port).reason == "smtp_protocol_error"


@pytest.mark.parametrize(("fault", "stage"), HUGE_REPLIES[:2])
def test_the_send_route_refuses_a_huge_reply(
    fault_server: StartFaultServer, fault: Fault, stage: str
) -> None:
    server = fault_server(fault)
    create_plain_service(server.port)

    answer = _send_api("Hi")

    assert (answer.status, answer.reason) == (502, "smtp_protocol_error"), answer.body
    assert answer.body["error"]["context"]["stage"] == stage
    assert server.only_session.streamed < READ_AT_MOST


@pytest.mark.parametrize(("fault", "stage"), HUGE_REPLIES)
def test_the_connection_test_refuses_a_huge_reply(
    fault_server: StartFaultServer, fault: Fault, stage: str
) -> None:
    server = fault_server(fault)
    create_plain_service(server.port)

    answer = call_api("POST", "/api/v2/system/service/email/test")

    assert answer.status == 200, answer.body
    report = answer.body
    assert report["ok"] is False
    assert (report["error"]["reason"], report["error"]["stage"]) == ("smtp_protocol_error", stage)
    assert server.only_session.streamed < READ_AT_MOST


# --- finding 4: a stage's deadline holds across a multi-line reply ------------------------------

DEADLINE = 1.0
SLACK = 0.75
# A continuation line every 0.2 s for 8 s: each line comes well within any per-read timeout.
DRIP = Stream(40 * 64, line=64, every=0.2)


@pytest.mark.parametrize(
    ("at", "reply", "failure", "stage"),
    [
        pytest.param(At.GREETING, "220 localhost", SmtpTimeout, "greeting", id="greeting"),
        pytest.param(At.EHLO, "250 SIZE", SmtpTimeout, "ehlo", id="ehlo"),
        pytest.param(At.MAIL, "250 OK", SmtpTimeout, "mail", id="mail"),
        pytest.param(At.DATA, "354 Go ahead", SmtpTimeout, "data", id="data"),
        # After the final dot the server may have the message, whatever keeps its verdict.
        pytest.param(At.END_OF_DATA, "250 OK", SmtpOutcomeUnknown, "end_of_data", id="end-of-data"),
    ],
)
def test_a_reply_dripped_a_line_at_a_time_ends_at_the_deadline(
    fault_server: StartFaultServer,
    at: At,
    reply: str,
    failure: type[SmtpFailure],
    stage: str,
) -> None:
    """Before, each read had the whole timeout to itself, so a line every few seconds held a
    send until the Lambda was killed (API Gateway's 502, a record left `sending`)."""
    server = fault_server(Fault.streaming(at, reply, DRIP))

    started = time.monotonic()
    error = _send_failing(server.port, seconds=DEADLINE)
    elapsed = time.monotonic() - started

    assert elapsed < DEADLINE + SLACK
    assert type(error) is failure, error.message
    assert error.context["stage"] == stage
    assert error.transient is (failure is SmtpTimeout)


def test_the_send_route_answers_a_dripped_reply_with_a_timeout(
    fault_server: StartFaultServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_TIMEOUT_SECONDS=str(DEADLINE))
    server = fault_server(Fault.streaming(At.MAIL, "250 OK", DRIP))
    create_plain_service(server.port)

    started = time.monotonic()
    answer = _send_api("Hi")
    elapsed = time.monotonic() - started

    assert (answer.status, answer.reason) == (504, "smtp_timeout"), answer.body
    assert elapsed < DEADLINE + SLACK + 1.0  # the API's own work besides


# --- finding 7: a reply not its own settles no message ---------------------------------------

STRAY = "250 2.0.0 OK: queued\r\n250 2.0.0 Ok"  # the verdict, and one more reply to nothing
FLAVOURS = [
    pytest.param((), id="lockstep"),
    pytest.param(("PIPELINING",), id="pipelining"),
    pytest.param(("PIPELINING", "CHUNKING"), id="pipelining+chunking"),
]


def _subjects(server: FaultServer) -> list[str]:
    return [
        arrival.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
        for arrival in server.delivered
    ]


@pytest.mark.parametrize("extensions", FLAVOURS)
def test_a_stray_reply_on_a_kept_connection_fails_no_message(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    """One `250` too many after a message: before, it shifted every reply of the next message
    on the kept connection, which was then refused for good ("refused the message: 250 ...")
    or, with CHUNKING, counted as sent on another command's reply. Now the next message finds
    it waiting before writing a byte, drops the connection and goes on a new one, once."""
    server = fault_server(
        Fault.answer(At.END_OF_DATA, STRAY), faulty_sessions=1, extensions=extensions
    )
    create_plain_service(server.port)

    answers = [_send_api(subject) for subject in ("one", "two", "three")]

    assert [answer.status for answer in answers] == [200, 200, 200], answers[-1].body
    assert _subjects(server) == ["one", "two", "three"]
    first, second = server.sessions
    assert first.transactions == 1  # the out-of-step connection carried nothing more
    assert second.transactions == 2


def test_a_stray_reply_before_an_announced_envelope_fails_no_message(
    fault_server: StartFaultServer, send_queue: SendQueue
) -> None:
    """A worker's batch writes the next envelope behind a message's dot, so its replies are
    rightly pending and cannot be checked for; one more `250` shifts them, and DATA then gets
    a `250` where its `354` is due: a protocol error, the message's text never written, so it
    goes again on a new connection and each message is delivered once."""
    server = fault_server(
        script=InTransaction(Fault.answer(At.END_OF_DATA, STRAY), number=1),
        extensions=("PIPELINING",),
    )
    create_plain_service(server.port, max_connections=1)  # one connection: announced envelopes
    for subject in ("one", "two", "three"):
        assert _send_api(subject, query="async=true").status == 202

    assert send_queue.drain() >= 1

    assert send_queue.receive() == []
    assert _subjects(server) == ["one", "two", "three"]
    assert len(server.sessions) == 2


@pytest.mark.parametrize(
    ("fault", "stage"),
    [
        pytest.param(Fault.answer(At.MAIL, "354 Go ahead"), "mail", id="354-to-mail"),
        pytest.param(Fault.answer(At.RCPT, "354 Go ahead"), "rcpt", id="354-to-rcpt"),
        pytest.param(Fault.answer(At.DATA, "250 2.0.0 Ok"), "data", id="250-to-data"),
        pytest.param(Fault.answer(At.EHLO, "354 Go ahead"), "ehlo", id="354-to-ehlo"),
        pytest.param(Fault.answer(At.GREETING, "250 Hello"), "greeting", id="250-greeting"),
    ],
)
def test_a_reply_that_cannot_answer_its_command_is_a_protocol_error(
    fault_server: StartFaultServer, fault: Fault, stage: str
) -> None:
    """Before, a reply of a class that cannot answer the command counted as a refusal for
    good (`smtp_rejected`): a message settled on what may be another command's reply. Before
    the final dot nothing was taken, so it may go again."""
    server = fault_server(fault)

    error = _send_failing(server.port)

    assert (type(error), error.reason, error.transient) == (
        SmtpConnectFailed,
        "smtp_protocol_error",
        True,
    ), error.message
    assert error.context["stage"] == stage
    assert not server.only_session.message_arrived
