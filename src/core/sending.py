"""Sending one message: the request path from a validated request to the SMTP server's answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from core.access import policy
from core.access.authentication import Principal
from core.access.rate_limit import Quota, RateLimiter
from core.addresses import Mailbox, reject_line_breaks
from core.errors import InvalidRequest, MessageTooLarge
from core.mime import POLICY, Draft, build_message
from core.rendering import render
from core.secrets import CredentialStore
from core.send_request import SendRequest
from core.services.model import Service
from core.services.repository import ServiceRepository
from core.transport.base import Deadline, Envelope, SmtpEndpoint, Transport

logger = Logger(child=True)

TransportFactory = Callable[[SmtpEndpoint], Transport]


@dataclass(frozen=True)
class SendResult:
    """DreamFactory's `{"count": N}`, plus what a caller needs to follow up."""

    count: int
    message_id: str
    accepted: list[str]
    refused: dict[str, str] = field(default_factory=dict)
    # The caller's rate-limit standing after this send (None when its role has no limits).
    quota: Quota | None = None

    def as_response(self) -> dict[str, Any]:
        body: dict[str, Any] = {"count": self.count, "message_id": self.message_id}
        if self.refused:
            body["refused"] = self.refused
        return body


class Mailer:
    """Resolves the service, composes the message and hands it to the service's transport."""

    def __init__(
        self,
        services: ServiceRepository,
        credentials: CredentialStore,
        transport_for: TransportFactory,
        rate_limiter: RateLimiter,
        *,
        max_message_bytes: int,
    ) -> None:
        self._services = services
        self._credentials = credentials
        self._transport_for = transport_for
        self._rate_limiter = rate_limiter
        self._max_message_bytes = max_message_bytes

    def send(
        self, caller: Principal, service_name: str, request: SendRequest, deadline: Deadline
    ) -> SendResult:
        """Send `request` through `service_name` as `caller`.

        Every check (policy, validation, size, rate limit) happens before any connection.
        """
        role = caller.role
        policy.check_service(role, service_name)
        service = self._services.get(service_name)
        draft = compose(request, service)
        recipients = request.envelope_recipients()
        policy.check_message(role, service, draft, len(recipients))
        message = build_message(draft)
        raw = message.as_bytes(policy=POLICY)
        if len(raw) > self._max_message_bytes:
            raise MessageTooLarge(
                f"The message is {len(raw)} bytes; the limit is {self._max_message_bytes}.",
                context={"size": len(raw), "limit": self._max_message_bytes},
            )
        envelope = Envelope(sender=draft.sender.email, recipients=recipients)
        transport = self._transport_for(self._endpoint(service))
        # Last, so only a message that would really go out uses up the caller's allowance.
        quota = self._rate_limiter.consume(role.name, role.rate_limits)
        delivery = transport.send(raw, envelope, deadline)
        message_id = str(message["Message-ID"])
        logger.info(
            "message sent",
            extra={
                "email_service": service.name,
                "key_id": caller.key_id,
                "message_id": message_id,
                "accepted": len(delivery.accepted),
                "refused": len(delivery.refused),
                "bytes": len(raw),
            },
        )
        return SendResult(
            count=len(delivery.accepted),
            message_id=message_id,
            accepted=delivery.accepted,
            refused=delivery.refused,
            quota=quota,
        )

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


def compose(request: SendRequest, service: Service) -> Draft:
    """Fill sender defaults from the service and render placeholders into a `Draft`."""
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
    subject = render(request.subject, values)
    # A placeholder value is caller input too: it must not smuggle a header into the subject.
    reject_line_breaks(subject, "subject")
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
    )


def _pick(given: str | None, default: str | None) -> str:
    return given if given is not None else (default or "")
