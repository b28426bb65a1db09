"""Sending one message: from a validated request to the SMTP server's answer, or to the queue.

`Mailer.prepare` does every check a message must pass (policy, composition, size);
`send` then delivers at once, `accept` queues it for the worker. Both keep a status record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aws_lambda_powertools import Logger

from core.access import policy
from core.access.authentication import Principal
from core.access.rate_limit import RateLimiter, Reservation
from core.addresses import Mailbox, check_header_text
from core.delivery.queue import Job, MessageQueue
from core.delivery.records import MessageRecord, MessageRepository, Status, new_record_id
from core.errors import InvalidRequest, MessageTooLarge, SmtpFailure, SmtpOutcomeUnknown
from core.mime import POLICY, Draft, build_message
from core.mime import new_message_id as new_header_id
from core.outbound import check_outbound
from core.outcomes import Queued, Sent
from core.rendering import render, rendered_size
from core.secrets import CredentialStore
from core.send_request import SendRequest, too_many_recipients
from core.services.model import Service
from core.services.repository import ServiceRepository
from core.settings import DEFAULT_MAX_RECIPIENTS
from core.transport.base import Deadline, Delivery, Envelope, SmtpEndpoint, Transport

logger = Logger(child=True)

TransportFactory = Callable[[SmtpEndpoint], Transport]


@dataclass(frozen=True)
class Prepared:
    """A message that passed every check, ready to go to the server."""

    service: Service
    message: EmailMessage
    raw: bytes
    envelope: Envelope

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


class Mailer:
    """Resolves the service, composes the message and delivers or queues it."""

    def __init__(
        self,
        services: ServiceRepository,
        credentials: CredentialStore,
        transport_for: TransportFactory,
        rate_limiter: RateLimiter,
        records: MessageRepository,
        queue: MessageQueue,
        *,
        max_message_bytes: int,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
    ) -> None:
        self._services = services
        self._credentials = credentials
        self._transport_for = transport_for
        self._rate_limiter = rate_limiter
        self._records = records
        self._queue = queue
        self._max_message_bytes = max_message_bytes
        self._max_recipients = max_recipients

    # --- the two ways in ------------------------------------------------------------------

    def send(
        self, caller: Principal, service_name: str, request: SendRequest, deadline: Deadline
    ) -> Sent:
        """Deliver now. Every check, and both rate limits, come before any connection."""
        prepared = self.prepare(caller, service_name, request)
        allowance = self._rate_limiter.consume(caller.role.name, caller.role.rate_limits)
        try:
            # A refusal by the provider's limit is a refusal: the role's unit goes back.
            provider_allowance = self.take_provider_allowance(prepared.service)
        except Exception:
            allowance.release()
            raise
        try:
            record = self._new_record(caller, prepared, Status.SENDING, attempts=1)
        except Exception:
            provider_allowance.release()
            allowance.release()
            raise
        try:
            delivery = self.deliver(prepared, prepared.envelope.recipients, deadline)
        except SmtpFailure as error:
            # A synchronous caller gets the error and decides; we do not retry for it.
            outcome = Status.UNKNOWN if isinstance(error, SmtpOutcomeUnknown) else Status.FAILED
            self._records.settle(record.id, outcome, reason=error.reason, smtp_reply=error.message)
            raise
        except Exception:
            # Before any SMTP exchange (credentials unreadable, say): nothing went out.
            self._records.settle(record.id, Status.FAILED, reason="internal_error")
            raise
        self._settle_sent(record, delivery)
        return Sent(
            id=record.id,
            message_id=prepared.message_id,
            accepted=delivery.accepted,
            refused={**delivery.refused, **delivery.deferred},
            quota=allowance.quota,
        )

    def accept(
        self,
        caller: Principal,
        service_name: str,
        request: SendRequest,
        body: dict[str, Any],
    ) -> Queued:
        """Queue for the worker, after exactly the checks a synchronous send gets."""
        send_at, now = request.send_at, datetime.now(UTC)
        prepared = self.prepare(caller, service_name, request)
        allowance = self._rate_limiter.consume(caller.role.name, caller.role.rate_limits)
        delay = 0 if send_at is None else max(0, round((send_at - now).total_seconds()))
        try:
            record = self._new_record(
                caller,
                prepared,
                Status.SCHEDULED if delay else Status.QUEUED,
                send_at=send_at.isoformat(timespec="seconds") if send_at else None,
            )
            job = Job(
                id=record.id,
                service=service_name,
                key_id=caller.key_id,
                message_id=record.message_id,
                send_at=record.send_at,
                request=body,
            )
            self._queue.enqueue(job, delay_seconds=delay)
        except Exception:
            allowance.release()  # nothing was queued: the request used nothing
            raise
        return Queued(
            id=record.id,
            message_id=record.message_id,
            status=record.status.value,
            send_at=record.send_at,
            quota=allowance.quota,
        )

    def _settle_sent(self, record: MessageRecord, delivery: Delivery) -> None:
        """Record the success. The message is out: a failure here must not turn into an error
        the caller would retry (sending it twice), so it is logged, loudly, instead."""
        try:
            self._records.settle(
                record.id,
                Status.SENT,
                smtp_reply=delivery.reply,
                accepted=delivery.accepted,
                refused={**delivery.refused, **delivery.deferred},
            )
        except Exception:
            logger.exception(
                "message sent, but its status record could not be updated",
                extra={"record_id": record.id, "message_id": record.message_id},
            )

    # --- the steps ------------------------------------------------------------------------

    def _new_record(
        self, caller: Principal, prepared: Prepared, status: Status, **fields: Any
    ) -> MessageRecord:
        return self._records.create(
            MessageRecord(
                id=new_record_id(),
                service=prepared.service.name,
                key_id=caller.key_id,
                role=caller.role.name,
                message_id=prepared.message_id,
                status=status,
                recipients=prepared.envelope.recipients,
                **fields,
            )
        )

    def prepare(
        self,
        caller: Principal,
        service_name: str,
        request: SendRequest,
        *,
        message_id: str | None = None,
    ) -> Prepared:
        """Policy, service, composition, MIME and size: everything short of the network."""
        role = caller.role
        policy.check_service(role, service_name)
        service = self._services.get(service_name)
        recipients = request.envelope_recipients()
        limit = service.config.recipient_limit(self._max_recipients)
        if len(recipients) > limit:
            raise too_many_recipients(len(recipients), limit)
        draft = compose(request, service, message_id=message_id, size_limit=self._max_message_bytes)
        policy.check_message(role, service, draft, len(recipients))
        message = build_message(draft)
        raw = message.as_bytes(policy=POLICY)
        if len(raw) > self._max_message_bytes:
            raise _too_large(len(raw), self._max_message_bytes)
        check_outbound(raw, draft)
        return Prepared(service, message, raw, Envelope(draft.sender.email, recipients))

    def take_provider_allowance(self, service: Service) -> Reservation:
        """One message from the service's provider limits, or `RateLimited` (429). They hold
        in every sliding window, as providers count them, not only in calendar ones."""
        return self._rate_limiter.consume_sliding(
            f"service:{service.name}", service.config.provider_limits()
        )

    def deliver(self, prepared: Prepared, recipients: list[str], deadline: Deadline) -> Delivery:
        """One SMTP transaction to `recipients` (on a retry, only those still pending)."""
        transport = self._transport_for(self._endpoint(prepared.service))
        envelope = Envelope(prepared.envelope.sender, recipients)
        delivery = transport.send(prepared.raw, envelope, deadline)
        logger.info(
            "message delivered",
            extra={
                "email_service": prepared.service.name,
                "message_id": prepared.message_id,
                "accepted": len(delivery.accepted),
                "refused": len(delivery.refused),
                "deferred": len(delivery.deferred),
                "bytes": len(prepared.raw),
            },
        )
        return delivery

    def _endpoint(self, service: Service) -> SmtpEndpoint:
        config = service.config
        password = (
            self._credentials.password(service.secret_id, service.secret_version)
            if service.secret_id
            else None
        )
        return SmtpEndpoint(
            host=config.host,
            port=config.port,
            encryption=config.encryption,
            verify_tls=config.verify_tls,
            username=config.username,
            password=password,
        )


def compose(
    request: SendRequest,
    service: Service,
    *,
    message_id: str | None = None,
    size_limit: int | None = None,
) -> Draft:
    """Fill sender defaults from the service and render placeholders into a `Draft`.

    With `size_limit`, a request whose rendered text and attachments alone exceed it is
    refused (413) before anything is rendered.
    """
    defaults = service.config
    sender_email = request.from_email or defaults.from_email
    if not sender_email:
        raise InvalidRequest(
            "No sender: give 'from_email' or set the service's default 'from_email'.",
            reason="no_sender",
            context={"field": "from_email"},
        )
    reply_to_email = request.reply_to_email or defaults.reply_to_email
    values = request.placeholder_values()
    if size_limit is not None:
        _refuse_oversized(request, values, size_limit)
    subject = render(request.subject, values)
    # A placeholder value is caller input too: it must not smuggle a header into the subject.
    check_header_text(subject, "subject")
    return Draft(
        sender=Mailbox(sender_email, _pick(request.from_name, defaults.from_name)),
        to=request.to,
        cc=request.cc,
        reply_to=(
            Mailbox(reply_to_email, _pick(request.reply_to_name, defaults.reply_to_name))
            if reply_to_email
            else None
        ),
        subject=subject,
        body_text=render(request.body_text, values) if request.body_text else None,
        body_html=render(request.body_html, values, html=True) if request.body_html else None,
        attachments=request.attachments,
        message_id=message_id or new_header_id(sender_email),
    )


def _refuse_oversized(request: SendRequest, values: dict[str, str], limit: int) -> None:
    """413 when the message cannot fit: the rendered texts and the decoded attachments are a
    lower bound of its size (transfer encodings only add to them)."""
    size = (
        rendered_size(request.subject, values)
        + rendered_size(request.body_text or "", values)
        + rendered_size(request.body_html or "", values, html=True)
        + sum(len(attachment.content) for attachment in request.attachments)
    )
    if size > limit:
        raise _too_large(size, limit, at_least=True)


def _too_large(size: int, limit: int, *, at_least: bool = False) -> MessageTooLarge:
    return MessageTooLarge(
        f"The message is {'at least ' if at_least else ''}{size} bytes; the limit is {limit}.",
        context={"size": size, "limit": limit},
    )


def _pick(given: str | None, default: str | None) -> str:
    return given if given is not None else (default or "")
