"""Admitting a message: may this caller send it through this service, and is there room in
the caller's and the provider's rate limits? Nothing here touches the network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.access import policy
from core.access.authentication import Principal
from core.access.quota import Quota
from core.access.reservation import Reservation
from core.composition.compose import Addressing
from core.errors import Forbidden, RateLimited
from core.message import Message
from core.observability.names import Metric
from core.observability.recorder import NoMetrics
from core.ports import Limiter, MetricRecorder
from core.send_request import too_many_recipients
from core.services.model import Service


@dataclass(frozen=True)
class Allowance:
    """One message's worth of the caller's limits and the provider's, taken together."""

    role: Reservation
    provider: Reservation

    @property
    def quota(self) -> Quota | None:
        return self.role.quota

    def release(self) -> None:
        """Give both back: the message did not go (nor will it)."""
        self.provider.release()
        self.role.release()

    def release_provider(self) -> None:
        """Give the provider's back, keeping the role's: the request did work (composing,
        fetching) that counts against its caller, but nothing reached the provider."""
        self.provider.release()


def check_active(service: Service) -> None:
    """403 for a service its admin switched off (DreamFactory's `is_active: false`)."""
    if not service.is_active:
        raise Forbidden(
            f"Service '{service.name}' is not active.",
            reason="service_inactive",
            context={"service": service.name},
        )


class Admission:
    def __init__(
        self, limiter: Limiter, *, max_recipients: int, metrics: MetricRecorder | None = None
    ) -> None:
        self._limiter = limiter
        self._max_recipients = max_recipients
        self._metrics = metrics or NoMetrics()

    def check_recipient_count(self, service: Service, count: int) -> None:
        """The operator's ceiling, lowered by the service's own: before any address work."""
        limit = service.config.recipient_limit(self._max_recipients)
        if count > limit:
            raise too_many_recipients(count, limit)

    @staticmethod
    def check_addressing(caller: Principal, service: Service, addressing: Addressing) -> None:
        """The caller's role may send as this sender, with this reply-to, to this many."""
        policy.check_addressing(
            caller.role,
            service,
            sender=addressing.sender,
            reply_to=addressing.reply_to,
            recipient_count=len(addressing.recipients),
        )

    @staticmethod
    def check_message(caller: Principal, service: Service, message: Message) -> None:
        """The caller's role may send this message (its sender, reply-to, recipients) here."""
        policy.check_message(caller.role, service, message)

    def take_role(self, caller: Principal) -> Reservation:
        """One message from the caller's role limits, or `RateLimited` (429)."""
        with self._counting_refusals():
            return self._limiter.consume(caller.role.name, caller.role.rate_limits)

    def take_provider(self, service: Service) -> Reservation:
        """One message from the service's provider limits, or `RateLimited` (429). They hold
        in every sliding window, as providers count them, not only in calendar ones."""
        with self._counting_refusals():
            return self._limiter.consume_sliding(
                f"service:{service.name}", service.config.provider_limits()
            )

    def provider_wait(self, service: Service) -> float:
        """Seconds until the service's provider limits would let one more message through
        (0: now); takes nothing."""
        return self._limiter.sliding_wait(
            f"service:{service.name}", service.config.provider_limits()
        )

    @contextmanager
    def _counting_refusals(self) -> Iterator[None]:
        """Every limit's refusal is a `rate_limited` metric, whichever path asked."""
        try:
            yield
        except RateLimited:
            self._metrics.count(Metric.RATE_LIMITED)
            raise

    def take(self, caller: Principal, service: Service) -> Allowance:
        """Both, or neither: a refusal by the provider's limit gives the role's unit back."""
        role = self.take_role(caller)
        try:
            return Allowance(role, self.take_provider(service))
        except BaseException:
            role.release()
            raise
