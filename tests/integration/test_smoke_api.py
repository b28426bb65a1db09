"""A first end-to-end pass through the handler: service creation, then a send (plain SMTP)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session, SMTP

from tests.support.api import call_api


class Capture:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def capture() -> Iterator[tuple[Capture, int]]:
    handler = Capture()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.mark.usefixtures("aws")
def test_create_service_then_send(capture: tuple[Capture, int]) -> None:
    handler, port = capture
    created = call_api(
        "POST",
        "/api/v2/system/service",
        {"name": "email", "config": {"host": "127.0.0.1", "port": port, "encryption": "none",
                                     "from_email": "noreply@example.com"}},
    )
    assert created.status == 201

    sent = call_api("POST", "/api/v2/email", {"to": "john@example.com", "body_text": "Hi"})

    assert sent.status == 200
    assert sent.body["count"] == 1
    assert handler.envelopes[0].rcpt_tos == ["john@example.com"]
