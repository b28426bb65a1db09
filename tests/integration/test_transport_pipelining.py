"""The SMTP transport against servers offering PIPELINING (RFC 2920) and CHUNKING (RFC 3030).

Round trips are counted, not timed: the fault server records how many replies it had sent
when each of the client's words arrived (`FaultSession.flights`), so a group of commands
written at once shows as one flight. Replies are matched to their commands, and every failure
classified as `core.transport.smtp.session`'s table says, the message's last BDAT byte counting
as its final dot. Postfix's smtp-sink, where installed, is the real-server check.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from core.composition.compose import compose
from core.network.tls import client_context
from core.outbound import seal
from core.send_request import parse_send_request
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
)
from local_stack.smtp.fault_session import MESSAGE_DATA
from tests.support.fake_clock import START
from tests.support.fake_services import smtp_service
from tests.support.smtp_servers import LOOPBACK, At, Fault, FaultServer, InTransaction

StartFaultServer = Callable[..., FaultServer]

SENDER = "noreply@example.com"
JOHN, JANE, JOE = "john@example.com", "jane@example.com", "joe@example.com"
# A line starting with a dot, and no final CRLF.
MESSAGE = b"From: noreply@example.com\r\nSubject: Hi\r\n\r\nHello\r\n.signature\r\nbye"
PIPELINING = ("PIPELINING",)
CHUNKING = ("CHUNKING",)
BOTH = ("PIPELINING", "CHUNKING")
PIPELINED = [pytest.param(PIPELINING, id="pipelining"), pytest.param(BOTH, id="both")]
KIB = 1024
STALL_SECONDS = 0.4
SMTP_SINK = "/usr/sbin/smtp-sink"


@pytest.fixture
def fault_server() -> Iterator[StartFaultServer]:
    with ExitStack() as running:

        def start(*faults: Fault, **options: Any) -> FaultServer:
            return running.enter_context(FaultServer(*faults, **options))

        yield start


def _transport(port: int, **endpoint: Any) -> SmtpTransport:
    return SmtpTransport(
        SmtpEndpoint(LOOPBACK, port, endpoint.pop("encryption", Encryption.NONE), **endpoint),
        tls=client_context(True),
        ehlo_name="client.example.com",
    )


def _send(
    port: int,
    recipients: list[str] | None = None,
    *,
    message: bytes = MESSAGE,
    seconds: float = 5.0,
    **endpoint: Any,
) -> Delivery:
    envelope = Envelope(SENDER, recipients or [JOHN])
    return _transport(port, **endpoint).send(message, envelope, Deadline.after(seconds))


def _send_failing(port: int, recipients: list[str] | None = None, **options: Any) -> SmtpFailure:
    with pytest.raises(SmtpFailure) as raised:
        _send(port, recipients, **options)
    return raised.value


def _body_verb(extensions: tuple[str, ...]) -> str:
    return "BDAT" if "CHUNKING" in extensions else "DATA"


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extensions", "flights"),
    [
        pytest.param(
            (),
            [["EHLO"], ["MAIL"], ["RCPT"], ["RCPT"], ["DATA"], [MESSAGE_DATA], ["QUIT"]],
            id="lockstep",
        ),
        pytest.param(
            PIPELINING,
            [["EHLO"], ["MAIL", "RCPT", "RCPT", "DATA"], [MESSAGE_DATA], ["QUIT"]],
            id="pipelining",
        ),
        pytest.param(
            CHUNKING,
            [["EHLO"], ["MAIL"], ["RCPT"], ["RCPT"], ["BDAT", MESSAGE_DATA], ["QUIT"]],
            id="chunking",
        ),
        pytest.param(
            BOTH,
            [["EHLO"], ["MAIL", "RCPT", "RCPT", "BDAT", MESSAGE_DATA], ["QUIT"]],
            id="both",
        ),
    ],
)
def test_the_client_writes_each_group_in_one_flight(
    fault_server: StartFaultServer, extensions: tuple[str, ...], flights: list[list[str]]
) -> None:
    server = fault_server(extensions=extensions)

    delivery = _send(server.port, [JOHN, JANE])

    assert delivery == Delivery(accepted=[JOHN, JANE], reply="250 2.0.0 OK: queued")
    session = server.only_session
    # Every flight but QUIT waited for the server: QUIT is written, its reply never awaited.
    assert session.flights == flights
    (arrival,) = session.arrivals
    assert (arrival.mail_from, arrival.rcpt_tos) == (SENDER, [JOHN, JANE])
    mail = session.commands[1].lower()
    assert mail == f"mail from:<{SENDER}> size={len(MESSAGE)}"


def test_auth_plain_takes_one_round_trip(fault_server: StartFaultServer) -> None:
    server = fault_server(extensions=BOTH)

    _send(server.port, username="mailer", password="secret")

    session = server.only_session
    assert session.flights[:3] == [["EHLO"], ["AUTH"], ["MAIL", "RCPT", "BDAT", MESSAGE_DATA]]
    verb, mechanism, initial = session.commands[1].split(" ")
    assert (verb, mechanism) == ("AUTH", "PLAIN")
    assert base64.b64decode(initial) == b"\0mailer\0secret"


def test_quit_is_written_and_its_reply_never_awaited(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.stall(At.QUIT), extensions=BOTH)

    started = time.monotonic()
    delivery = _send(server.port, seconds=5)

    assert time.monotonic() - started < 0.5  # not the second a slow goodbye may take
    assert delivery.accepted == [JOHN]
    assert server.only_session.verbs[-1] == "QUIT"


def test_a_transaction_left_open_is_reset_in_the_same_write_as_quit(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(Fault.answer(At.DATA, "554 5.7.1 No"), extensions=PIPELINING)

    _send_failing(server.port)

    assert server.only_session.flights[-1] == ["RSET", "QUIT"]


# --- replies matched per recipient --------------------------------------------------------------


@pytest.mark.parametrize("extensions", PIPELINED)
def test_some_recipients_refused_some_deferred(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, "550 5.1.1 No such user", recipients=[JANE]),
        Fault.answer(At.RCPT, "452 4.5.3 Too many recipients", recipients=[JOE]),
        extensions=extensions,
    )

    delivery = _send(server.port, [JOHN, JANE, JOE, "jim@example.com"])

    assert delivery == Delivery(
        accepted=[JOHN, "jim@example.com"],
        refused={JANE: "550 5.1.1 No such user"},
        deferred={JOE: "452 4.5.3 Too many recipients"},
        reply="250 2.0.0 OK: queued",
    )
    (arrival,) = server.delivered
    assert arrival.rcpt_tos == [JOHN, "jim@example.com"]


@pytest.mark.parametrize("extensions", PIPELINED)
@pytest.mark.parametrize(
    ("john", "jane", "expected"),
    [
        pytest.param("550 5.1.1 No such user", "554 5.7.1 Relay denied", SmtpRejected, id="5xx"),
        pytest.param("550 5.1.1 No such user", "452 4.5.3 Too many", SmtpDeferred, id="4xx"),
    ],
)
def test_every_recipient_refused(
    fault_server: StartFaultServer,
    extensions: tuple[str, ...],
    john: str,
    jane: str,
    expected: type[SmtpFailure],
) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, john, recipients=[JOHN]),
        Fault.answer(At.RCPT, jane, recipients=[JANE]),
        extensions=extensions,
    )

    error = _send_failing(server.port, [JOHN, JANE])

    assert type(error) is expected
    assert error.transient is (expected is SmtpDeferred)
    assert error.context["stage"] == "rcpt"
    replies = {JOHN: john, JANE: jane}
    assert {**error.context.get("refused", {}), **error.context.get("deferred", {})} == replies
    session = server.only_session
    # The DATA (or BDAT) written with the group is refused too; no message is taken, and the
    # transaction is reset before QUIT.
    body = _body_verb(extensions)
    assert session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT", body, "RSET", "QUIT"]
    assert not session.message_arrived


@pytest.mark.parametrize("extensions", PIPELINED)
@pytest.mark.parametrize(
    ("reply", "expected"),
    [("553 5.7.1 Sender address rejected", SmtpRejected), ("451 4.3.0 Try later", SmtpDeferred)],
)
def test_the_sender_refused(
    fault_server: StartFaultServer,
    extensions: tuple[str, ...],
    reply: str,
    expected: type[SmtpFailure],
) -> None:
    server = fault_server(Fault.answer(At.MAIL, reply), extensions=extensions)

    error = _send_failing(server.port, [JOHN, JANE])

    # MAIL's refusal is the one reported; the RCPTs' and DATA's (503s) are read and dropped.
    assert type(error) is expected
    assert (error.context["stage"], error.context["smtp_code"]) == ("mail", int(reply[:3]))
    assert reply in error.message
    session = server.only_session
    body = _body_verb(extensions)
    assert session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT", body, "RSET", "QUIT"]
    assert not session.message_arrived


@pytest.mark.parametrize("extensions", PIPELINED)
def test_421_in_the_middle_of_the_group(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, "421 4.3.2 Shutting down", recipients=[JANE]),
        extensions=extensions,
    )

    error = _send_failing(server.port, [JOHN, JANE, JOE])

    assert (type(error), error.transient) == (SmtpDeferred, True)
    assert (error.context["stage"], error.context["smtp_code"]) == ("rcpt", 421)
    # The server closed after its 421: nothing after it was read, nothing taken.
    assert server.only_session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT"]
    assert server.delivered == []


def test_a_reply_that_is_no_smtp_reply_in_the_group(fault_server: StartFaultServer) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, "HTTP/1.1 400 Bad Request", recipients=[JANE]),
        extensions=PIPELINING,
    )

    error = _send_failing(server.port, [JOHN, JANE])

    assert (type(error), error.reason, error.transient) == (
        SmtpConnectFailed,
        "not_smtp_server",
        False,
    )
    assert "HTTP" not in error.message
    assert server.delivered == []


def test_a_reply_that_is_no_smtp_reply_once_the_chunk_is_written(
    fault_server: StartFaultServer,
) -> None:
    # The message went with the group: a server this confused may be delivering it anyway
    # (this one does, to John), so nothing is claimed either way.
    server = fault_server(
        Fault.answer(At.RCPT, "HTTP/1.1 400 Bad Request", recipients=[JANE]), extensions=BOTH
    )

    error = _send_failing(server.port, [JOHN, JANE])

    assert (type(error), error.transient) == (SmtpOutcomeUnknown, False)
    assert error.context["stage"] == "end_of_data"
    assert "HTTP" not in error.message


# --- the message's bytes ------------------------------------------------------------------------


def _sealed_raw(**body: Any) -> bytes:
    request = parse_send_request({"to": JOHN, "subject": "Report", **body})
    service = smtp_service(host=LOOPBACK, port=25, encryption="none")
    return seal(
        compose(request, service, now=START, size_limit=10 * KIB * KIB), max_bytes=10**7
    ).raw


BINARY = base64.b64encode(bytes(range(256)) * 64).decode()  # 16 KiB of every byte value


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            _sealed_raw(
                body_text="Attached.\n.hidden line\n..two dots\n.",
                attachments=[
                    {"name": "blob.bin", "content": BINARY, "content_type": "application/zip"}
                ],
            ),
            id="attachment-and-dots",
        ),
        pytest.param(_sealed_raw(body_html="<p>Hi</p>\n.<b>dot</b>"), id="html"),
        pytest.param(MESSAGE, id="no-final-crlf"),
    ],
)
@pytest.mark.parametrize("extensions", [CHUNKING, BOTH], ids=["chunking", "both"])
def test_a_bdat_chunk_arrives_byte_for_byte(
    fault_server: StartFaultServer, extensions: tuple[str, ...], raw: bytes
) -> None:
    server = fault_server(extensions=extensions)

    _send(server.port, message=raw)

    (arrival,) = server.delivered
    assert arrival.data == raw  # no dot-stuffing, no CRLF added, nothing changed
    assert server.only_session.commands[-2] == f"BDAT {len(raw)} LAST"


def test_pipelined_data_is_dot_stuffed_as_before(fault_server: StartFaultServer) -> None:
    raw = _sealed_raw(body_text="Hello\n.signature")
    server = fault_server(extensions=PIPELINING)

    _send(server.port, message=raw)

    assert server.delivered[0].data == raw  # unstuffed by the server: as built


# --- slow and silent servers --------------------------------------------------------------------


@pytest.mark.parametrize("extensions", PIPELINED)
def test_a_slow_server_is_still_served_within_the_deadline(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    server = fault_server(extensions=extensions, reply_delay=0.1)

    delivery = _send(server.port, [JOHN, JANE, JOE], seconds=5)

    assert delivery.accepted == [JOHN, JANE, JOE]
    # However late the replies, the client waited for each group once.
    expected = 3 if extensions == BOTH else 4  # EHLO, group, (message,) QUIT
    assert len(server.only_session.flights) == expected


def test_a_server_silent_in_the_middle_of_the_group_times_out_before_the_dot(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(Fault.stall(At.RCPT, recipients=[JANE]), extensions=PIPELINING)

    started = time.monotonic()
    error = _send_failing(server.port, [JOHN, JANE], seconds=STALL_SECONDS)

    assert time.monotonic() - started < STALL_SECONDS + 1
    assert (type(error), error.transient) == (SmtpTimeout, True)
    assert error.context["stage"] == "rcpt"
    assert not server.only_session.message_arrived


def test_a_server_silent_once_the_chunk_is_written_leaves_the_outcome_unknown(
    fault_server: StartFaultServer,
) -> None:
    # The whole message went with the group: silence may mean it is being delivered.
    server = fault_server(Fault.stall(At.RCPT, recipients=[JANE]), extensions=BOTH)

    error = _send_failing(server.port, [JOHN, JANE], seconds=STALL_SECONDS)

    assert (type(error), error.transient) == (SmtpOutcomeUnknown, False)
    assert error.context["stage"] == "end_of_data"


# --- the connection lost once the chunk is written ----------------------------------------------


@pytest.mark.parametrize("extensions", [CHUNKING, BOTH], ids=["chunking", "both"])
def test_dropped_after_the_chunk_is_read(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    server = fault_server(Fault.drop(At.END_OF_DATA), extensions=extensions)

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpOutcomeUnknown, False)
    assert error.context["stage"] == "end_of_data"
    (arrival,) = server.only_session.arrivals
    assert (arrival.data, arrival.answer) == (MESSAGE, None)


@pytest.mark.parametrize("at", [At.MAIL, At.RCPT], ids=["mail", "rcpt"])
def test_dropped_at_the_envelope_once_the_chunk_went_with_it(
    fault_server: StartFaultServer, at: At
) -> None:
    # An orderly close after the server read the whole flight: it may have the message.
    server = fault_server(Fault.drop(at), extensions=BOTH)

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpOutcomeUnknown, False)
    assert error.context["stage"] == "end_of_data"


@pytest.mark.parametrize("extensions", [CHUNKING, BOTH], ids=["chunking", "both"])
def test_a_close_with_the_chunk_unread_is_a_reset_safe_to_retry(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    server = fault_server(Fault.drop(At.MESSAGE), extensions=extensions)

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.context["stage"] == "data"
    assert "reset the connection before reading the whole message" in error.message
    assert not server.only_session.message_arrived


@pytest.mark.parametrize("extensions", [CHUNKING, BOTH], ids=["chunking", "both"])
def test_an_abort_in_the_middle_of_the_chunk_is_safe_to_retry(
    fault_server: StartFaultServer, extensions: tuple[str, ...]
) -> None:
    line = b"x" * 998 + b"\r\n"
    server = fault_server(Fault.reset(At.MESSAGE, after_bytes=100), extensions=extensions)

    # Whether the RST meets the client still writing the chunk or waiting for a reply.
    error = _send_failing(server.port, message=MESSAGE + b"\r\n" + line * 256)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.context["stage"] == "data"
    assert not error.stale_connection  # the connection's first message: none was kept
    assert not server.only_session.message_arrived


def test_a_connection_the_server_gave_up_on_while_idle_is_noticed_before_the_message(
    fault_server: StartFaultServer,
) -> None:
    # After the first message the server says 421 unprompted (as one does to an idle
    # connection). The next transaction sees it waiting and does not write the message with
    # the envelope: the 421 comes as MAIL's reply, before the message left.
    idle_timeout = "250 2.0.0 OK: queued\r\n421 4.4.2 Idle for too long"
    server = fault_server(Fault.answer(At.END_OF_DATA, idle_timeout), extensions=BOTH)
    envelope = Envelope(SENDER, [JOHN])

    with _transport(server.port) as transport:
        transport.open(Deadline.after(5))
        transport.send(MESSAGE, envelope, Deadline.after(5))
        with pytest.raises(SmtpDeferred) as raised:
            transport.send(MESSAGE, envelope, Deadline.after(5))

    assert (raised.value.context["stage"], raised.value.context["smtp_code"]) == ("mail", 421)
    assert raised.value.stale_connection  # a kept connection, dead before the handover
    assert server.only_session.verbs.count("BDAT") == 1  # the second message never left


# --- a batch: the next message's envelope written behind the dot ---------------------------------

SUBJECTS = (b"One", b"Two", b"Three")
ONE, TWO, THREE = (
    _sealed_raw(subject=subject.decode(), body_text=".dot\nline") for subject in SUBJECTS
)
Result = Delivery | SmtpFailure


def _batch(
    transport: SmtpTransport, messages: list[tuple[bytes, list[str]]], seconds: float = 5.0
) -> list[Result]:
    """Each message sent in turn on `transport`, naming the next one as `then`, as a worker's
    batch does (a failed send closes the session: the next one opens another)."""
    outgoing = [Outgoing(raw, Envelope(SENDER, recipients)) for raw, recipients in messages]
    results: list[Result] = []
    for current, following in zip(outgoing, [*outgoing[1:], None], strict=True):
        deadline = Deadline.after(seconds)
        try:
            transport.open(deadline)
            if following is not None:
                transport.announce(following)
            results.append(transport.send(current.message, current.envelope, deadline))
        except SmtpFailure as failure:
            results.append(failure)
    return results


def _three(port: int, recipients: list[str] | None = None) -> list[Result]:
    with _transport(port) as transport:
        return _batch(transport, [(raw, recipients or [JOHN]) for raw in (ONE, TWO, THREE)])


def test_each_message_of_a_batch_takes_one_round_trip(fault_server: StartFaultServer) -> None:
    # A slow server: each reply waits a moment. The next envelope goes in a write of its own,
    # right after the message's, and a fast server may answer the dot in between; the flights
    # (what had been answered when each word arrived) would then split what the client wrote
    # without waiting.
    server = fault_server(extensions=PIPELINING, reply_delay=0.05)

    results = _three(server.port, [JOHN, JANE])

    assert all(
        isinstance(result, Delivery) and result.accepted == [JOHN, JANE] for result in results
    )
    session = server.only_session
    envelope = ["MAIL", "RCPT", "RCPT", "DATA"]
    assert session.flights == [
        ["EHLO"],
        envelope,
        [MESSAGE_DATA, *envelope],  # the first message's text, and the second's envelope
        [MESSAGE_DATA, *envelope],
        [MESSAGE_DATA],
        ["QUIT"],
    ]
    # Byte for byte (dot-stuffed on the wire, unstuffed by the server), each once, in order.
    assert [arrival.data for arrival in server.delivered] == [ONE, TWO, THREE]


def test_nothing_is_announced_behind_a_big_message(fault_server: StartFaultServer) -> None:
    server = fault_server(extensions=PIPELINING, reply_delay=0.05)
    big = _sealed_raw(subject="Big", body_text="x" * (100 * KIB))

    with _transport(server.port) as transport:
        results = _batch(transport, [(big, [JOHN]), (TWO, [JOHN])])

    assert [type(result) for result in results] == [Delivery, Delivery]
    envelope = ["MAIL", "RCPT", "DATA"]
    # A round trip is little beside a big message's transfer; announcing behind it would
    # turn a server giving up in its middle into an unknown outcome.
    assert server.only_session.flights == [
        ["EHLO"],
        envelope,
        [MESSAGE_DATA],
        envelope,
        [MESSAGE_DATA],
        ["QUIT"],
    ]


def test_a_batch_on_a_chunking_server_sends_each_message_in_its_one_flight(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(extensions=BOTH)

    _three(server.port)

    group = ["MAIL", "RCPT", "BDAT", MESSAGE_DATA]
    assert server.only_session.flights == [["EHLO"], group, group, group, ["QUIT"]]
    assert [arrival.data for arrival in server.delivered] == [ONE, TWO, THREE]


def test_the_announced_message_gets_its_replies_per_recipient(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(
        script=InTransaction(Fault.answer(At.RCPT, "550 5.1.1 No such user", recipients=[JANE]))
    )
    server.extensions = PIPELINING

    first, second, third = _three(server.port, [JOHN, JANE])

    assert isinstance(first, Delivery)
    assert isinstance(third, Delivery)
    assert second == Delivery(
        accepted=[JOHN], refused={JANE: "550 5.1.1 No such user"}, reply="250 2.0.0 OK: queued"
    )
    assert [arrival.rcpt_tos for arrival in server.delivered] == [
        [JOHN, JANE],
        [JOHN],
        [JOHN, JANE],
    ]


def test_one_message_of_the_batch_refused_at_its_dot(fault_server: StartFaultServer) -> None:
    server = fault_server(
        script=InTransaction(Fault.answer(At.END_OF_DATA, "554 5.7.1 Spam"), number=1),
        extensions=PIPELINING,
    )

    first, second, third = _three(server.port)

    assert isinstance(first, SmtpRejected)
    assert (first.context["stage"], first.context["smtp_code"]) == ("end_of_data", 554)
    assert isinstance(second, Delivery)
    assert isinstance(third, Delivery)
    # The second message's envelope went with the first one's dot; that session was closed
    # before its text, so it arrived once: on the next connection, with the third.
    announced, after = server.sessions
    assert [arrival.data for arrival in announced.arrivals] == [ONE]
    assert [arrival.data for arrival in after.arrivals] == [TWO, THREE]
    assert [arrival.data for arrival in server.delivered] == [TWO, THREE]


@pytest.mark.parametrize(
    ("announced", "expected", "transient"),
    [
        pytest.param(False, SmtpConnectFailed, True, id="alone"),
        pytest.param(True, SmtpOutcomeUnknown, False, id="next-envelope-behind-the-dot"),
    ],
)
def test_a_reset_after_the_dot_is_safe_to_retry_only_when_nothing_followed_the_dot(
    fault_server: StartFaultServer,
    announced: bool,
    expected: type[SmtpFailure],
    transient: bool,
) -> None:
    # The server reads the message, then aborts. With nothing written after the dot, its
    # receive buffer was empty... unless the abort was deliberate (see
    # core.transport.smtp.classification);
    # with the next envelope written, the RST may come from that alone, after it took the message.
    server = fault_server(
        script=InTransaction(Fault.reset(At.END_OF_DATA), number=1), extensions=PIPELINING
    )
    deadline = Deadline.after(5)
    then = Outgoing(TWO, Envelope(SENDER, [JOHN])) if announced else None

    with _transport(server.port) as transport:
        transport.open(deadline)
        if then is not None:
            transport.announce(then)
        with pytest.raises(SmtpFailure) as raised:
            transport.send(ONE, Envelope(SENDER, [JOHN]), deadline)

    assert (type(raised.value), raised.value.transient) == (expected, transient)


def test_421_to_the_announced_envelope(fault_server: StartFaultServer) -> None:
    server = fault_server(
        script=InTransaction(Fault.answer(At.MAIL, "421 4.4.2 Closing")), extensions=PIPELINING
    )

    first, second, third = _three(server.port)

    assert isinstance(first, Delivery)
    assert isinstance(third, Delivery)
    # Before its text: the caller (core.delivery.deliver) may send it again on a new connection.
    assert isinstance(second, SmtpDeferred)
    assert (second.context["stage"], second.context["smtp_code"]) == ("mail", 421)
    assert [arrival.data for arrival in server.delivered] == [ONE, THREE]


def _send_one_announcing_two(transport: SmtpTransport) -> None:
    envelope = Envelope(SENDER, [JOHN])
    transport.open(Deadline.after(5))
    transport.announce(Outgoing(TWO, envelope))
    transport.send(ONE, envelope, Deadline.after(5))


def test_a_send_of_another_message_than_the_announced_one_goes_on_a_new_connection(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(extensions=PIPELINING)

    with _transport(server.port) as transport:
        _send_one_announcing_two(transport)
        delivery = transport.send(THREE, Envelope(SENDER, [JOHN]), Deadline.after(5))

    assert delivery.accepted == [JOHN]
    # The first session was closed after the announced DATA: no text, no dot, nothing taken.
    assert [[arrival.data for arrival in session.arrivals] for session in server.sessions] == [
        [ONE],
        [THREE],
    ]


def test_closing_with_a_message_announced_writes_nothing_more(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(extensions=PIPELINING)

    with _transport(server.port) as transport:
        _send_one_announcing_two(transport)

    # The announced message never arrives (a goodbye after the 354 would have been its text,
    # with no dot: nothing either), and no RSET or QUIT reached the server as a command. How
    # far the server read after the first message depends on when it saw the close.
    assert {"RSET", "QUIT"}.isdisjoint(server.only_session.verbs)
    assert [arrival.data for arrival in server.delivered] == [ONE]


# --- Postfix ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def smtp_sink() -> Iterator[int]:
    """Postfix's smtp-sink on a loopback port (PIPELINING; it takes every recipient)."""
    if shutil.which(SMTP_SINK) is None:
        pytest.skip(f"{SMTP_SINK} is missing: install Debian's postfix package (make postfix)")
    port = _free_port()
    privileges = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(  # noqa: S603  # a fixed program, our arguments
        [SMTP_SINK, *privileges, f"{LOOPBACK}:{port}", "100"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        give_up = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection((LOOPBACK, port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"220"):
                        break
            except OSError:
                if time.monotonic() > give_up or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait()


def test_smtp_sink_takes_a_pipelined_send_to_five_recipients(smtp_sink: int) -> None:
    recipients = [f"user{n}@example.com" for n in range(5)]
    transport = _transport(smtp_sink)

    with transport:
        transport.open(Deadline.after(10))
        first = transport.send(
            _sealed_raw(body_text="One"), Envelope(SENDER, recipients), Deadline.after(10)
        )
        second = transport.send(MESSAGE, Envelope(SENDER, recipients), Deadline.after(10))

    for delivery in (first, second):
        assert delivery.accepted == recipients
        assert (delivery.refused, delivery.deferred) == ({}, {})
        assert str(delivery.reply).startswith("250")


def test_smtp_sink_takes_a_batch_with_each_next_envelope_behind_the_dot(smtp_sink: int) -> None:
    recipients = [f"user{n}@example.com" for n in range(5)]
    messages = [
        (_sealed_raw(subject=f"Message {n}", body_text=".dot"), recipients) for n in range(5)
    ]

    with _transport(smtp_sink) as transport:
        results = _batch(transport, messages, seconds=10)

    for result in results:
        assert isinstance(result, Delivery)
        assert result.accepted == recipients
        assert str(result.reply).startswith("250")
