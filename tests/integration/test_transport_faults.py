"""The SMTP transport against a server that misbehaves on purpose, at every stage.

Each case checks what the queue worker and the API branch on (the error type, `transient`,
`reason`, the Delivery) and what the server saw: its commands, the number of transactions,
and whether the whole message reached it.
"""

from __future__ import annotations

import base64
import smtplib
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from core.network.tls import client_context
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Delivery, Envelope
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from core.transport.smtp.errors import (
    SmtpAuthFailed,
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from tests.support.api import call_api, create_service
from tests.support.smtp_servers import (
    LOOPBACK,
    Act,
    At,
    Authorities,
    CaptureServer,
    ClosedPort,
    Fault,
    FaultServer,
    Security,
)

StartFaultServer = Callable[..., FaultServer]

SENDER = "noreply@example.com"
JOHN, JANE, JOE = "john@example.com", "jane@example.com", "joe@example.com"
# A line starting with a dot, and no final CRLF: what the client must fix up for DATA.
MESSAGE = b"From: noreply@example.com\r\nSubject: Hi\r\n\r\nHello\r\n.signature\r\nbye"
ARRIVED = b"From: noreply@example.com\r\nSubject: Hi\r\n\r\nHello\r\n.signature\r\nbye\r\n"
STALL_SECONDS = 0.4
KIB = 1024

REPLIES = {
    421: "421 4.3.2 Service shutting down",
    450: "450 4.2.1 Mailbox busy",
    451: "451 4.3.0 Local error in processing",
    452: "452 4.5.3 Too many recipients",
    454: "454 4.7.0 Temporary authentication failure",
    535: "535 5.7.8 Authentication credentials invalid",
    550: "550 5.1.1 No such user",
    554: "554 5.7.1 Transaction failed",
}
# A 5xx is SmtpRejected unless the stage names the failure better.
PERMANENT_AT = {At.GREETING: SmtpConnectFailed, At.STARTTLS: SmtpTlsError, At.AUTH: SmtpAuthFailed}
# The stages that answer for the whole message; RCPT answers per recipient (tested apart).
WHOLE_MESSAGE_STAGES = [
    At.GREETING,
    At.EHLO,
    At.STARTTLS,
    At.AUTH,
    At.MAIL,
    At.DATA,
    At.END_OF_DATA,
]
VERB_AT = {stage: stage.upper() for stage in WHOLE_MESSAGE_STAGES} | {At.END_OF_DATA: "DATA"}
IN_TRANSACTION = {At.MAIL, At.RCPT, At.DATA}  # a failure here leaves a transaction to RSET


@pytest.fixture
def fault_server() -> Iterator[StartFaultServer]:
    """Lockstep servers (no PIPELINING, no CHUNKING) unless a test says otherwise, whatever
    SMTP_TEST_EXTENSIONS asks: the cases here assert the commands one by one, in the order a
    lockstep session says them. The pipelined and chunked sessions have their own cases in
    test_transport_pipelining.py, and the fault matrix runs against both."""
    with ExitStack() as running:

        def start(*faults: Fault, **options: Any) -> FaultServer:
            options.setdefault("extensions", ())
            return running.enter_context(FaultServer(*faults, **options))

        yield start


def _send(
    port: int,
    recipients: list[str] | None = None,
    *,
    encryption: Encryption = Encryption.NONE,
    seconds: float = 5.0,
    message: bytes = MESSAGE,
    **endpoint: Any,
) -> Delivery:
    transport = SmtpTransport(
        SmtpEndpoint(LOOPBACK, port, encryption, **endpoint),
        tls=client_context(True),
        ehlo_name="client.example.com",
    )
    envelope = Envelope(SENDER, recipients or [JOHN])
    return transport.send(message, envelope, Deadline.after(seconds))


def _bigger_than_the_buffers() -> bytes:
    """A message the client cannot hand to its kernel at once: over twice the most a socket's
    send buffer grows to (tcp_wmem), so `sendall` is still writing when the server stops."""
    wmem = Path("/proc/sys/net/ipv4/tcp_wmem")
    most = int(wmem.read_text().split()[2]) if wmem.exists() else 4 * KIB * KIB
    line = b"x" * 998 + b"\r\n"
    return MESSAGE + b"\r\n" + line * (2 * most // len(line) + 1)


def _send_failing(port: int, recipients: list[str] | None = None, **options: Any) -> SmtpFailure:
    with pytest.raises(SmtpFailure) as raised:
        _send(port, recipients, **options)
    return raised.value


def _endpoint_for(stage: At) -> dict[str, Any]:
    """What it takes for the client to reach `stage`: STARTTLS asked for, or credentials."""
    if stage is At.STARTTLS:
        return {"encryption": Encryption.TLS}
    if stage is At.AUTH:
        return {"username": "mailer", "password": "secret"}
    return {}


# --- a well-behaved session ---------------------------------------------------------------------


def test_a_clean_session(fault_server: StartFaultServer) -> None:
    server = fault_server()

    delivery = _send(server.port, [JOHN, JANE])

    assert delivery == Delivery(accepted=[JOHN, JANE], reply="250 2.0.0 OK: queued")
    session = server.only_session
    assert session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]
    # smtplib spells it "FROM:" before Python 3.13 and "from:" after; SMTP verbs ignore case.
    mail_arguments = session.commands[1].split(" ", 1)[1]
    assert mail_arguments.lower() == f"from:<{SENDER}> size={len(MESSAGE)}".lower()
    (arrival,) = session.arrivals
    assert (arrival.mail_from, arrival.rcpt_tos, arrival.answer) == (
        SENDER,
        [JOHN, JANE],
        "250 2.0.0 OK: queued",
    )
    assert arrival.data == ARRIVED  # dot-stuffed on the wire, CRLF added before the final dot


# --- a reply code at each stage -----------------------------------------------------------------


@pytest.mark.parametrize("stage", WHOLE_MESSAGE_STAGES)
@pytest.mark.parametrize("code", list(REPLIES))
def test_a_reply_code_at_a_stage(fault_server: StartFaultServer, stage: At, code: int) -> None:
    server = fault_server(Fault.answer(stage, REPLIES[code]))

    error = _send_failing(server.port, **_endpoint_for(stage))

    expected = SmtpDeferred if code < 500 else PERMANENT_AT.get(stage, SmtpRejected)
    assert type(error) is expected
    assert error.transient is (code < 500)
    assert error.reason == expected.default_reason
    assert REPLIES[code] in error.message
    assert error.context["smtp_code"] == code
    assert error.context["stage"] == stage.value
    session = server.only_session
    assert session.transactions == (1 if stage in {At.MAIL, At.DATA, At.END_OF_DATA} else 0)
    assert session.message_arrived is (stage is At.END_OF_DATA)
    # 421 means the server is closing: nothing more is said. Otherwise an open transaction is
    # reset, and the session ends with QUIT (a refused greeting gets no QUIT from smtplib).
    if stage is At.GREETING:
        assert session.commands == []
        return
    said_after = session.verbs[session.verbs.index(VERB_AT[stage]) + 1 :]
    if code == 421:
        assert said_after == []
    elif stage in IN_TRANSACTION:
        assert said_after == ["RSET", "QUIT"]
    elif stage is At.EHLO and code >= 500:
        assert said_after == ["HELO", "QUIT"]  # an old server might know HELO
    else:
        assert said_after == ["QUIT"]


def test_a_message_refused_after_the_dot_did_arrive(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.answer(At.END_OF_DATA, REPLIES[554]))

    error = _send_failing(server.port)

    assert isinstance(error, SmtpRejected)
    (arrival,) = server.only_session.arrivals
    assert (arrival.answer, arrival.delivered) == (REPLIES[554], False)
    assert server.delivered == []


# --- replies per recipient ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [450, 451, 452, 550, 554])
def test_every_recipient_refused_with_the_same_code(
    fault_server: StartFaultServer, code: int
) -> None:
    server = fault_server(Fault.answer(At.RCPT, REPLIES[code]))

    error = _send_failing(server.port, [JOHN, JANE])

    replies = {JOHN: REPLIES[code], JANE: REPLIES[code]}
    if code < 500:
        assert (type(error), error.transient) == (SmtpDeferred, True)
        assert error.context["deferred"] == replies
        assert "refused" not in error.context
    else:
        assert (type(error), error.transient) == (SmtpRejected, False)
        assert error.context["refused"] == replies
        assert "deferred" not in error.context
    assert error.context["stage"] == "rcpt"
    assert server.only_session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]


def test_421_at_rcpt_ends_the_session(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.answer(At.RCPT, REPLIES[421], recipients=[JANE]))

    error = _send_failing(server.port, [JOHN, JANE, JOE])

    assert (type(error), error.transient, error.context["smtp_code"]) == (SmtpDeferred, True, 421)
    # John was accepted, but the session ended before DATA: nobody got the message.
    assert server.only_session.verbs == ["EHLO", "MAIL", "RCPT", "RCPT"]


def test_no_recipient_accepted_some_for_now_some_for_good(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, REPLIES[550], recipients=[JOHN]),
        Fault.answer(At.RCPT, REPLIES[452], recipients=[JANE]),
    )

    error = _send_failing(server.port, [JOHN, JANE])

    # Worth another try for Jane; John is refused again then, which costs nothing.
    assert (type(error), error.transient) == (SmtpDeferred, True)
    assert error.context["refused"] == {JOHN: REPLIES[550]}
    assert error.context["deferred"] == {JANE: REPLIES[452]}
    assert "DATA" not in server.only_session.verbs


def test_some_recipients_accepted(fault_server: StartFaultServer) -> None:
    server = fault_server(
        Fault.answer(At.RCPT, REPLIES[550], recipients=[JANE]),
        Fault.answer(At.RCPT, REPLIES[452], recipients=[JOE]),
    )

    delivery = _send(server.port, [JOHN, JANE, JOE])

    assert delivery == Delivery(
        accepted=[JOHN],
        refused={JANE: REPLIES[550]},
        deferred={JOE: REPLIES[452]},
        reply="250 2.0.0 OK: queued",
    )
    (arrival,) = server.delivered
    assert arrival.rcpt_tos == [JOHN]
    assert server.transactions == 1


# --- dropped connections ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "transactions"),
    [(At.GREETING, 0), (At.EHLO, 0), (At.MAIL, 1), (At.RCPT, 1), (At.DATA, 1)],
)
def test_dropped_before_the_final_dot(
    fault_server: StartFaultServer, stage: At, transactions: int
) -> None:
    server = fault_server(Fault.drop(stage))

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.reason == "smtp_connect_failed"
    assert error.context["stage"] == stage.value
    assert server.only_session.transactions == transactions
    assert not server.only_session.message_arrived


def test_dropped_after_the_final_dot(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.drop(At.END_OF_DATA))

    error = _send_failing(server.port)

    # The server read the whole message, then closed in order (a FIN, no reply): it may
    # deliver it, so it is never resent blindly.
    assert (type(error), error.transient) == (SmtpOutcomeUnknown, False)
    assert error.reason == "smtp_outcome_unknown"
    assert error.context["stage"] == "end_of_data"
    assert isinstance(error.__cause__, smtplib.SMTPServerDisconnected)
    assert error.__cause__.__context__ is None  # an EOF, no socket error
    (arrival,) = server.only_session.arrivals
    assert (arrival.data, arrival.answer) == (ARRIVED, None)


# --- a reset, or a close, while the message is still being written or read ---------------------


def test_a_close_with_the_whole_message_unread_is_a_reset_not_an_unknown(
    fault_server: StartFaultServer,
) -> None:
    # The client has written the message and its dot (the server waits until all of it sits
    # in its receive buffer) and waits for the verdict; the server closes without reading it,
    # so its kernel answers with an RST: the server never had the message.
    server = fault_server(Fault.drop(At.MESSAGE))

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.reason == "smtp_connect_failed"
    assert error.context["stage"] == "data"
    assert "reset the connection before reading the whole message" in error.message
    assert isinstance(error.__cause__, smtplib.SMTPServerDisconnected)
    assert isinstance(error.__cause__.__context__, ConnectionResetError)
    assert not server.only_session.message_arrived


@pytest.mark.parametrize("act", [Act.DROP, Act.RESET], ids=["close-unread", "abort"])
def test_a_reset_while_the_message_is_written(fault_server: StartFaultServer, act: Act) -> None:
    # Bigger than every buffer between the two, so the client is still writing (in `sendall`)
    # when the server closes after reading a little of it.
    server = fault_server(Fault(At.MESSAGE, act, after_bytes=64 * KIB), receive_buffer=64 * KIB)

    error = _send_failing(server.port, message=_bigger_than_the_buffers())

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.context["stage"] == "data"
    assert "before the message's final dot" in error.message
    assert not server.only_session.message_arrived


def test_an_abort_after_the_dot_reads_as_a_reset(fault_server: StartFaultServer) -> None:
    # The ambiguity the transport's docstring names: a server that read the whole message and
    # then aborts (SO_LINGER 0) is taken at its RST's word, so the message would be resent.
    server = fault_server(Fault.reset(At.END_OF_DATA))

    error = _send_failing(server.port)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    (arrival,) = server.only_session.arrivals
    assert (arrival.data, arrival.answer) == (ARRIVED, None)


def test_a_server_that_stops_reading_the_message_times_out_as_transient(
    fault_server: StartFaultServer,
) -> None:
    server = fault_server(Fault.stall(At.MESSAGE, after_bytes=64 * KIB), receive_buffer=64 * KIB)

    error = _send_failing(server.port, message=_bigger_than_the_buffers(), seconds=STALL_SECONDS)

    # The dot never left: the server cannot have the message.
    assert (type(error), error.transient) == (SmtpTimeout, True)
    assert error.context["stage"] == "data"
    assert "stopped reading the message" in error.message
    assert not server.only_session.message_arrived


def test_nothing_listening(closed_port: ClosedPort) -> None:
    error = _send_failing(closed_port.port)

    assert (type(error), error.transient) == (SmtpConnectFailed, True)
    assert error.context == {"host": LOOPBACK, "port": closed_port.port}


# --- stalls -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "expected", "arrived"),
    [
        (At.GREETING, SmtpTimeout, False),
        (At.EHLO, SmtpTimeout, False),
        (At.MAIL, SmtpTimeout, False),
        (At.RCPT, SmtpTimeout, False),
        (At.DATA, SmtpTimeout, False),
        (At.END_OF_DATA, SmtpOutcomeUnknown, True),
    ],
)
def test_stalled_past_the_deadline(
    fault_server: StartFaultServer, stage: At, expected: type[SmtpFailure], arrived: bool
) -> None:
    server = fault_server(Fault.stall(stage))

    started = time.monotonic()
    error = _send_failing(server.port, seconds=STALL_SECONDS)

    # One budget for the whole session, not one per command: well short of several budgets.
    assert time.monotonic() - started < STALL_SECONDS + 2
    assert type(error) is expected
    assert error.transient is (expected is SmtpTimeout)
    assert error.context["stage"] == stage.value
    assert server.only_session.message_arrived is arrived


def test_a_slow_goodbye_does_not_undo_a_delivery(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.stall(At.QUIT))

    started = time.monotonic()
    delivery = _send(server.port, seconds=5)

    assert delivery.accepted == [JOHN]
    assert time.monotonic() - started < 4  # QUIT gets a second at most, not the whole 5 s
    assert len(server.delivered) == 1


# --- TLS ----------------------------------------------------------------------------------------


def test_an_untrusted_certificate_is_permanent(authorities: Authorities) -> None:
    with CaptureServer(security=Security.IMPLICIT, authority=authorities.untrusted) as server:
        error = _send_failing(server.port, encryption=Encryption.SSL)

    assert (type(error), error.transient) == (SmtpTlsError, False)
    assert "certificate verify failed" in error.message
    assert "stage" not in error.context  # it failed before any SMTP was spoken
    assert server.messages == []


# --- a server that recovers ---------------------------------------------------------------------


def test_a_transient_failure_then_a_retry(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.answer(At.MAIL, REPLIES[451]), faulty_sessions=1)

    assert _send_failing(server.port).transient
    assert _send(server.port).accepted == [JOHN]

    assert [session.transactions for session in server.sessions] == [1, 1]
    assert len(server.delivered) == 1


# --- through the synchronous API ----------------------------------------------------------------


def _service(port: int) -> None:
    create_service({"host": LOOPBACK, "port": port, "encryption": "none", "from_email": SENDER})


def _api_send(**body: Any) -> tuple[int, dict[str, Any]]:
    response = call_api("POST", "/api/v2/email", {"to": JOHN, "body_text": "Hi", **body})
    return response.status, response.body


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("fault", "status", "reason", "arrived"),
    [
        pytest.param(
            Fault.answer(At.MAIL, REPLIES[451]), 502, "smtp_deferred", False, id="451-mail"
        ),
        pytest.param(
            Fault.answer(At.RCPT, REPLIES[452]), 502, "smtp_deferred", False, id="452-rcpt"
        ),
        pytest.param(
            Fault.answer(At.RCPT, REPLIES[550]), 502, "smtp_rejected", False, id="550-rcpt"
        ),
        pytest.param(Fault.drop(At.RCPT), 502, "smtp_connect_failed", False, id="drop-rcpt"),
        pytest.param(
            Fault.drop(At.MESSAGE), 502, "smtp_connect_failed", False, id="close-message-unread"
        ),
        pytest.param(Fault.drop(At.END_OF_DATA), 502, "smtp_outcome_unknown", True, id="drop-dot"),
        pytest.param(Fault.stall(At.DATA), 504, "smtp_timeout", False, id="stall-data"),
    ],
)
def test_the_api_answers_each_fault(
    fault_server: StartFaultServer,
    configure: Callable[..., None],
    fault: Fault,
    status: int,
    reason: str,
    arrived: bool,
) -> None:
    # Only a stall waits for the budget; the others get room for a busy machine.
    configure(SMTP_TIMEOUT_SECONDS=str(STALL_SECONDS if fault.act is Act.STALL else 5))
    server = fault_server(fault)
    _service(server.port)

    answer_status, body = _api_send()

    assert (answer_status, body["error"]["reason"]) == (status, reason), body
    assert server.only_session.transactions == 1
    assert server.only_session.message_arrived is arrived


@pytest.mark.usefixtures("aws")
def test_the_api_answers_a_reset_mid_message_as_transient(
    fault_server: StartFaultServer, configure: Callable[..., None]
) -> None:
    configure(SMTP_TIMEOUT_SECONDS="5")
    server = fault_server(Fault.reset(At.MESSAGE, after_bytes=64 * KIB), receive_buffer=64 * KIB)
    _service(server.port)
    attachment = base64.b64encode(bytes(range(256)) * 4 * KIB).decode()  # 1 MiB

    status, body = _api_send(
        attachments=[{"name": "big.bin", "content": attachment, "content_type": "application/zip"}]
    )

    # A synchronous caller may resend it: the server said (by its RST) it never took it.
    assert (status, body["error"]["reason"]) == (502, "smtp_connect_failed"), body
    assert body["error"]["context"]["stage"] == "data"
    assert not server.only_session.message_arrived


@pytest.mark.usefixtures("aws")
def test_the_api_counts_only_accepted_recipients(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.answer(At.RCPT, REPLIES[452], recipients=[JANE]))
    _service(server.port)

    status, body = _api_send(cc=JANE)

    assert (status, body["count"]) == (200, 1), body
    assert server.delivered[0].rcpt_tos == [JOHN]


def test_the_id_the_server_gave_the_message_is_kept(fault_server: StartFaultServer) -> None:
    server = fault_server(Fault.answer(At.END_OF_DATA, "250 2.0.0 Ok: queued as 4ZxYz1AbcDz"))

    delivery = _send(server.port)

    assert delivery.reply == "250 2.0.0 Ok: queued as 4ZxYz1AbcDz"
    assert delivery.provider_message_id == "4ZxYz1AbcDz"
