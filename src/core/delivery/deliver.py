"""Handing a sealed message to its service's transport: one transaction, logged.

The transport comes from a `TransportPool`, so consecutive messages of a service share one
authenticated connection. A kept connection may have died while idle (the server closed it);
the transport says so on the next send (`DeliveryFailure.stale_connection`: found dead before
the message was handed over, so the server cannot have it). Then, and only then, the send goes
once more on a new connection. Once the message may have been handed over nothing is resent
here; the caller gets the `DeliveryOutcomeUnknown`, as from any connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools import Logger

from core.errors import DeliveryFailure
from core.observability.names import Metric
from core.observability.recorder import NoMetrics
from core.observability.tracing import traced
from core.outbound import Sealed
from core.ports import AnnouncesNext, MetricRecorder, PacesHandover, TransportFactory
from core.services.model import Service
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.pool import Lease, TransportPool

logger = Logger(child=True)


class Deliverer:
    """Sends through a `TransportPool`; given a bare `TransportFactory`, every message gets a
    connection of its own (no reuse)."""

    def __init__(
        self,
        transports: TransportFactory | TransportPool,
        *,
        metrics: MetricRecorder | None = None,
    ) -> None:
        self._pool = (
            transports
            if isinstance(transports, TransportPool)
            else TransportPool(transports, reuse=False)
        )
        self._metrics = metrics or NoMetrics()

    @traced
    def deliver(
        self,
        service: Service,
        sealed: Sealed,
        recipients: list[str],
        deadline: Deadline,
        *,
        then: Outgoing | None = None,
        handover: Callable[[], None] | None = None,
    ) -> Delivery:
        """One transaction to `recipients` (on a retry, only those still pending), or a
        `DeliveryFailure`. The connection is kept for the service's next message after a success,
        closed after any failure; a reused one found dead before the handover is replaced, and
        the message sent on the new one, once. `then`: the service's next message, when the
        caller has it already: announced to a transport that `AnnouncesNext`. `handover`: run
        at the moment the message is handed over (by a transport that `PacesHandover`, just
        before its text; by any other, just before its send), on every try."""
        sending = outgoing(sealed, recipients)
        started = time.monotonic()
        lease = self._pool.take(service, deadline)
        try:
            delivery = self._send(lease, sending, deadline, then, handover)
        except DeliveryFailure as failure:
            if not (lease.reused and failure.stale_connection):
                raise
            logger.info(
                "reused connection was closed by the server; sending on a new one",
                extra={
                    "email_service": service.name,
                    "message_id": sealed.message.message_id,
                    "stage": failure.context.get("stage"),
                    "smtp_code": failure.context.get("smtp_code"),  # SMTP's, when it replied
                },
            )
            lease = self._pool.take(service, deadline, fresh=True)
            delivery = self._send(lease, sending, deadline, then, handover)
        self._measure(started, delivery)
        logger.info(
            "message delivered",
            extra={
                "email_service": service.name,
                "message_id": sealed.message.message_id,
                "accepted": len(delivery.accepted),
                "refused": len(delivery.refused),
                "deferred": len(delivery.deferred),
                "bytes": len(sealed.raw),
                "reused_connection": lease.reused,
            },
        )
        return delivery

    def close_idle(self, service_name: str) -> None:
        """Close the service's kept connections (a worker's batch is over: see
        `core.delivery.connection_slots`)."""
        self._pool.close_idle(service_name)

    def _measure(self, started: float, delivery: Delivery) -> None:
        """A handover's time, connecting included when it had to, and its round trips."""
        self._metrics.milliseconds(Metric.SMTP_LATENCY, (time.monotonic() - started) * 1000)
        if delivery.round_trips is not None:
            self._metrics.count(Metric.ROUND_TRIPS, delivery.round_trips)

    def _send(
        self,
        lease: Lease,
        sending: Outgoing,
        deadline: Deadline,
        then: Outgoing | None,
        handover: Callable[[], None] | None,
    ) -> Delivery:
        """Send on the lease; give it back after a success, discard it after any failure."""
        try:
            if then is not None and isinstance(lease.transport, AnnouncesNext):
                lease.transport.announce(then)
            if handover is not None:
                if isinstance(lease.transport, PacesHandover):
                    lease.transport.before_handover(handover)
                else:
                    handover()
            delivery = lease.transport.send(sending.message, sending.envelope, deadline)
        except BaseException:
            self._pool.discard(lease)
            raise
        self._pool.give_back(lease)
        return delivery


def outgoing(sealed: Sealed, recipients: list[str]) -> Outgoing:
    """What goes to the server for `sealed`: its bytes, from its sender to `recipients`, with
    its tags and metadata for a provider that takes them beside the message."""
    message = sealed.message
    envelope = Envelope(
        message.sender.email,
        recipients,
        tags=tuple(message.tags),
        metadata=tuple(message.metadata.items()),
    )
    return Outgoing(sealed.raw, envelope)
