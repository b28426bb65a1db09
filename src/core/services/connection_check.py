"""Testing a service's connection: a session as a send would open it, stopped before MAIL FROM.

(Not `connection_test.py`: pytest would take a `*_test.py` module for a test file.)
"""

from __future__ import annotations

from core.errors import InvalidRequest
from core.ports import Clock, ServiceStore, TransportFactory
from core.transport.base import Deadline
from core.transport.smtp import SmtpTransport
from core.transport.smtp.probe import ConnectionReport, describe


def check_connection(
    services: ServiceStore,
    transports: TransportFactory,
    name: str,
    deadline: Deadline,
    clock: Clock,
) -> ConnectionReport:
    """The report of connecting to service `name`'s server with its settings and credentials,
    sending no mail; `NotFound` for an unknown service. A failed connection is a report
    (`ok` false, with the error a send would get), not an error: the test ran."""
    service = services.get(name)
    transport = transports(service)  # the transport, TLS context and password a send gets
    if not isinstance(transport, SmtpTransport):
        raise InvalidRequest(
            f"Service '{name}' is not an SMTP service: only SMTP connections can be tested.",
            reason="not_testable",
        )
    log = transport.probe(deadline)
    return describe(log, transport.endpoint, service=name, now=clock.now())
