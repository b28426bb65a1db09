"""Handing a sealed message to its service's transport: one transaction, logged.

The transport comes from a `TransportPool`, so consecutive messages of a service share one
authenticated connection. A kept connection may have died while idle (the server closed it, or
said 421 as it did): that shows on the next send as a lost connection or a 421 before the
message's final dot. Then, and only then, the send goes once more on a new connection: before
the dot the server cannot have the message (see `core.transport.smtp`). Once the dot is written
nothing is resent here; the caller gets the `SmtpOutcomeUnknown`, as from any connection.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from core.outbound import Sealed
from core.ports import TransportFactory
from core.services.model import Service
from core.transport.base import Deadline, Delivery, Envelope, Outgoing
from core.transport.pool import Lease, TransportPool
from core.transport.smtp import Stage
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpTlsError,
)

logger = Logger(child=True)

# Stages where a failure leaves the message untaken (the final dot never left, or a reset said
# the server did not read it all); absent, the failure came while connecting.
_BEFORE_HANDOVER = frozenset(
    {
        Stage.GREETING,
        Stage.EHLO,
        Stage.STARTTLS,
        Stage.AUTH,
        Stage.MAIL,
        Stage.RCPT,
        Stage.DATA,
    }
)
# 421: the server is closing the channel, which is what one does to a connection idle too long.
_CLOSING = 421


class Deliverer:
    """Sends through a `TransportPool`; given a bare `TransportFactory`, every message gets a
    connection of its own (no reuse)."""

    def __init__(self, transports: TransportFactory | TransportPool) -> None:
        self._pool = (
            transports
            if isinstance(transports, TransportPool)
            else TransportPool(transports, reuse=False)
        )

    def deliver(
        self,
        service: Service,
        sealed: Sealed,
        recipients: list[str],
        deadline: Deadline,
        *,
        then: Outgoing | None = None,
    ) -> Delivery:
        """One transaction to `recipients` (on a retry, only those still pending), or an
        `SmtpFailure`. The connection is kept for the service's next message after a success,
        closed after any failure; a reused one found dead before the handover is replaced, and
        the message sent on the new one, once. `then`: the service's next message, when the
        caller has it already (see `Transport.send`)."""
        sending = outgoing(sealed, recipients)
        lease = self._pool.take(service, deadline)
        try:
            delivery = self._send(lease, sending, deadline, then)
        except SmtpFailure as failure:
            if not (lease.reused and found_dead(failure)):
                raise
            logger.info(
                "reused connection was closed by the server; sending on a new one",
                extra={
                    "email_service": service.name,
                    "message_id": sealed.message.message_id,
                    "stage": failure.context.get("stage"),
                    "smtp_code": failure.context.get("smtp_code"),
                },
            )
            lease = self._pool.take(service, deadline, fresh=True)
            delivery = self._send(lease, sending, deadline, then)
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

    def _send(
        self,
        lease: Lease,
        sending: Outgoing,
        deadline: Deadline,
        then: Outgoing | None,
    ) -> Delivery:
        """Send on the lease; give it back after a success, discard it after any failure."""
        try:
            delivery = lease.transport.send(sending.message, sending.envelope, deadline, then=then)
        except BaseException:
            self._pool.discard(lease)
            raise
        self._pool.give_back(lease)
        return delivery


def outgoing(sealed: Sealed, recipients: list[str]) -> Outgoing:
    """What goes to the server for `sealed`: its bytes, from its sender to `recipients`."""
    return Outgoing(sealed.raw, Envelope(sealed.message.sender.email, recipients))


def found_dead(failure: SmtpFailure) -> bool:
    """Whether `failure` says the connection was gone before the message was handed over,
    rather than what a live server thinks of the message: lost with no reply (or its TLS
    broken), or a 421, at a stage before the final dot. A timeout is not counted: it used up
    the time a second try would need. After the dot (`SmtpOutcomeUnknown`) nothing counts."""
    if isinstance(failure, SmtpOutcomeUnknown):
        return False
    stage = failure.context.get("stage")
    if stage is not None and stage not in _BEFORE_HANDOVER:
        return False
    code = failure.context.get("smtp_code")
    if code == _CLOSING:
        return True
    return isinstance(failure, SmtpConnectFailed | SmtpTlsError) and code is None
