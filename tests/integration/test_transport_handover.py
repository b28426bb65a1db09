"""`PacesHandover`: what the courier runs at a message's handover (its provider's pace) runs
just before the write that carries the message's text, whichever way the server takes it,
and what it raises ends the send with nothing of the text written (the server has nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from core.network.tls import client_context
from core.ports import PacesHandover
from core.services.smtp_options import Encryption
from core.transport.base import Deadline, Envelope
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from tests.support.smtp_servers import LOOPBACK, FaultServer

MESSAGE = b"From: noreply@example.com\r\nSubject: Hi\r\n\r\nHello\r\n"
ENVELOPE = Envelope("noreply@example.com", ["john@example.com"])


class NotNow(Exception):
    pass


@pytest.fixture
def fault_server() -> Iterator[Callable[..., FaultServer]]:
    with ExitStack() as running:

        def start(**options: Any) -> FaultServer:
            return running.enter_context(FaultServer(**options))

        yield start


def _transport(port: int) -> SmtpTransport:
    return SmtpTransport(
        SmtpEndpoint(LOOPBACK, port, Encryption.NONE),
        tls=client_context(True),
        ehlo_name="client.example.com",
    )


@pytest.mark.parametrize(
    ("extensions", "seen_at_handover"),
    [
        pytest.param((), ["EHLO", "MAIL", "RCPT", "DATA"], id="lockstep"),
        pytest.param(("PIPELINING",), ["EHLO", "MAIL", "RCPT", "DATA"], id="pipelining"),
        pytest.param(("CHUNKING",), ["EHLO", "MAIL", "RCPT"], id="chunking"),
        # MAIL, RCPT, BDAT and the text go in one write: the handover is before all of it.
        pytest.param(("PIPELINING", "CHUNKING"), ["EHLO"], id="both"),
    ],
)
def test_the_handover_runs_just_before_the_messages_text(
    fault_server: Callable[..., FaultServer],
    extensions: tuple[str, ...],
    seen_at_handover: list[str],
) -> None:
    server = fault_server(extensions=extensions)
    transport = _transport(server.port)
    assert isinstance(transport, PacesHandover)
    seen: list[list[str]] = []
    transport.before_handover(lambda: seen.append(list(server.only_session.verbs)))

    transport.send(MESSAGE, ENVELOPE, Deadline.after(5))
    transport.close()

    assert seen == [seen_at_handover]
    assert len(server.delivered) == 1


@pytest.mark.parametrize(
    "extensions",
    [(), ("PIPELINING",), ("CHUNKING",), ("PIPELINING", "CHUNKING")],
    ids=["lockstep", "pipelining", "chunking", "both"],
)
def test_a_handover_that_raises_ends_the_send_with_nothing_delivered(
    fault_server: Callable[..., FaultServer], extensions: tuple[str, ...]
) -> None:
    server = fault_server(extensions=extensions)
    transport = _transport(server.port)

    def refuse() -> None:
        raise NotNow

    transport.before_handover(refuse)
    with pytest.raises(NotNow):
        transport.send(MESSAGE, ENVELOPE, Deadline.after(5))

    assert server.delivered == []
    # It holds for that send only: the next one goes.
    transport.send(MESSAGE, ENVELOPE, Deadline.after(5))
    transport.close()
    assert len(server.delivered) == 1
