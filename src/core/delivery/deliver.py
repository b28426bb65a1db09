"""Handing a sealed message to its service's transport: one transaction, logged."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from core.outbound import Sealed
from core.ports import TransportFactory
from core.services.model import Service
from core.transport.base import Deadline, Delivery, Envelope

logger = Logger(child=True)


class Deliverer:
    def __init__(self, transports: TransportFactory) -> None:
        self._transports = transports

    def deliver(
        self, service: Service, sealed: Sealed, recipients: list[str], deadline: Deadline
    ) -> Delivery:
        """One transaction to `recipients` (on a retry, only those still pending), or an
        `SmtpFailure`; the connection is closed either way."""
        envelope = Envelope(sealed.message.sender.email, recipients)
        with self._transports(service) as transport:
            delivery = transport.send(sealed.raw, envelope, deadline)
        logger.info(
            "message delivered",
            extra={
                "email_service": service.name,
                "message_id": sealed.message.message_id,
                "accepted": len(delivery.accepted),
                "refused": len(delivery.refused),
                "deferred": len(delivery.deferred),
                "bytes": len(sealed.raw),
            },
        )
        return delivery
