"""A transport's optional abilities (`core.ports.AnnouncesNext`, `Probes`): who has which, and
what a caller does when the transport lacks one."""

from __future__ import annotations

import pytest

from core.errors import InvalidRequest
from core.network.tls import client_context
from core.ports import AnnouncesNext, Probes
from core.services.connection_check import check_connection
from core.services.smtp_options import Encryption
from core.transport.base import Deadline
from core.transport.smtp import SmtpEndpoint, SmtpTransport
from tests.support.fake_clock import FakeClock
from tests.support.fake_services import FakeServiceRepository, smtp_service
from tests.support.outbox import Outbox


def test_smtp_announces_the_next_message_and_probes() -> None:
    endpoint = SmtpEndpoint("smtp.example.com", 587, Encryption.TLS)
    transport = SmtpTransport(endpoint, tls=client_context(True), ehlo_name="test")

    assert isinstance(transport, AnnouncesNext)
    assert isinstance(transport, Probes)


def test_the_outbox_announces_but_has_no_connection_test() -> None:
    transport = Outbox()(smtp_service())

    assert isinstance(transport, AnnouncesNext)
    assert not isinstance(transport, Probes)


def test_a_transport_without_a_connection_test_is_not_testable() -> None:
    services = FakeServiceRepository()
    services.add(smtp_service())

    with pytest.raises(InvalidRequest) as raised:
        check_connection(services, Outbox(), "email", Deadline.after(5), FakeClock())

    assert raised.value.reason == "not_testable"
