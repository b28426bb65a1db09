"""One send request from any entry point (HTTP or direct invocation): now, or queued, at most
once per idempotency key. The composition root (`core.runtime.dispatcher`) builds the
`Dispatcher` with what it needs; nothing here reaches for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.access.authentication import Principal
from core.delivery.idempotency import at_most_once, keyed_record_id
from core.errors import DeliveryOutcomeUnknown
from core.observability.logs import correlate
from core.outcomes import SendOutcome, Unconfirmed
from core.send_request import SendRequest
from core.transport.base import Deadline

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from core.sending import Mailer


@dataclass(frozen=True)
class Dispatcher:
    """Sends or queues through `mailer`; a request with an idempotency key goes through the
    store `idempotency_store()` gives (asked only then: most sends carry no key, and a cold
    start pays for loading Powertools' idempotency), remembered `idempotency_seconds`. A send
    now gets `send_deadline(the Lambda's remaining milliseconds, or None)`."""

    mailer: Mailer
    idempotency_store: Callable[[], BasePersistenceLayer]
    idempotency_seconds: int
    send_deadline: Callable[[int | None], Deadline]

    def dispatch(
        self,
        caller: Principal,
        service: str,
        request: SendRequest,
        body: Any,
        *,
        asynchronous: bool,
        idempotency_key: str | None,
        lambda_context: LambdaContext | None,
    ) -> SendOutcome:
        """Send `request` now (`Sent`, or `Unconfirmed` when its fate is unknown) or queue it
        (`Queued`; also whenever it has a `send_at`). The entry point validated it (with
        `parse_send_request`); `body`, the JSON it came as, is what an idempotency key is
        held to."""
        correlate(idempotency_key=idempotency_key)
        queued = asynchronous or request.send_at is not None
        scope = f"{caller.key_id}#{service}"

        def operation() -> SendOutcome:
            if queued:
                record_id = keyed_record_id(scope, idempotency_key) if idempotency_key else None
                return self.mailer.accept(caller, service, request, record_id=record_id)
            return self._send_now(caller, service, request, lambda_context)

        return at_most_once(
            self.idempotency_store,
            key=idempotency_key,
            scope=scope,
            body=body,
            expires_after_seconds=self.idempotency_seconds,
            lambda_context=lambda_context,
            operation=operation,
        )

    def _send_now(
        self,
        caller: Principal,
        service: str,
        request: SendRequest,
        lambda_context: LambdaContext | None,
    ) -> SendOutcome:
        remaining = lambda_context.get_remaining_time_in_millis() if lambda_context else None
        try:
            return self.mailer.send(caller, service, request, self.send_deadline(remaining))
        except DeliveryOutcomeUnknown as error:
            # Remembered under the idempotency key like a success: a retry must not resend.
            return Unconfirmed.of(error)
