"""Testing a service's connection: the steps a send would take, stopped before any mail goes.

(Not `connection_test.py`: pytest would take a `*_test.py` module for a test file.)
"""

from __future__ import annotations

from core.errors import InvalidRequest
from core.ports import Clock, Probes, ServiceStore, SignsWithDkim, TransportFactory
from core.transport.base import Deadline
from core.transport.report import ConnectionReport


def check_connection(
    services: ServiceStore,
    transports: TransportFactory,
    name: str,
    deadline: Deadline,
    clock: Clock,
) -> ConnectionReport:
    """The report of connecting to service `name`'s server with its settings and credentials,
    sending no mail; `NotFound` for an unknown service. A failed connection is a report
    (`ok` false, with the error a send would get), not an error: the test ran. A service that
    signs with DKIM gets the DNS record its signatures need (derived from its key; no DNS
    lookup)."""
    service = services.by_name(name)
    transport = transports(service)  # the transport, TLS context and password a send gets
    if not isinstance(transport, Probes):
        raise InvalidRequest(
            f"Service '{name}' has no connection test for its type.", reason="not_testable"
        )
    report = transport.probe(deadline, service=name, clock=clock)
    if isinstance(transport, SignsWithDkim) and transport.signer is not None:
        dkim = transport.signer.report(service.config.from_email)
        report = report.model_copy(update={"dkim": dkim})
    return report
