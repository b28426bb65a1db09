"""One send request from any entry point (HTTP or direct invocation): now, or queued, at most
once per idempotency key. Answers carry the HTTP status the API would give."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.access.authentication import Principal
from core.delivery.idempotency import Answer, at_most_once
from core.errors import SmtpOutcomeUnknown
from core.send_request import SendRequest, parse_send_request
from core.settings import get_settings


def dispatch(
    caller: Principal,
    service: str,
    body: Any,
    *,
    asynchronous: bool,
    idempotency_key: str | None,
    lambda_context: LambdaContext | None,
) -> Answer:
    """Validate `body`, then send it now (200) or queue it (202; also whenever `send_at`)."""
    request = parse_send_request(body)
    queued = asynchronous or request.send_at is not None

    def operation() -> Answer:
        if queued:
            return _queue(caller, service, request, body)
        return _send_now(caller, service, request, lambda_context)

    return at_most_once(
        runtime.idempotency_store(),
        key=idempotency_key,
        scope=f"{caller.key_id}#{service}",
        body=body,
        expires_after_seconds=get_settings().idempotency_seconds,
        lambda_context=lambda_context,
        operation=operation,
    )


def _send_now(
    caller: Principal, service: str, request: SendRequest, lambda_context: LambdaContext | None
) -> Answer:
    remaining = lambda_context.get_remaining_time_in_millis() if lambda_context else None
    try:
        result = runtime.mailer().send(caller, service, request, runtime.send_deadline(remaining))
    except SmtpOutcomeUnknown as error:
        # Remembered under the idempotency key like a success: a retry must not resend.
        return {"status": error.status, "body": error.envelope(), "headers": {}}
    headers = result.quota.headers() if result.quota else {}
    return {"status": 200, "body": result.as_response(), "headers": headers}


def _queue(caller: Principal, service: str, request: SendRequest, body: Any) -> Answer:
    accepted = runtime.mailer().accept(
        caller, service, request, body, send_at=request.send_at, now=datetime.now(UTC)
    )
    headers = accepted.quota.headers() if accepted.quota else {}
    return {"status": 202, "body": accepted.as_response(), "headers": headers}
