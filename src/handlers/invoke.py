"""Direct invocation by other Lambdas (IAM-authorized, no API key).

Event: `{"service": "email", "message": {...the body of POST /api/v2/email...}}`, optionally
with `"async": true` (queue it) and `"idempotency_key": "..."`. Returns the same body as the
HTTP API (`{"count": ...}`, `{"id": ..., "status": "queued"}`, or `{"error": {...}}`).

A batch: `{"action": "batch", "service": "email", "batch": {...the body of POST
/api/v2/email/batch...}}`, with the same options; returns `{"results": [...]}` as the API does.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.batch.envelope import parse_batch
from core.errors import EmailApiError, InvalidRequest
from core.send_request import parse_send_request
from core.settings import check_settings
from handlers.observed import entry_point, logger
from handlers.responses import batch_answer, error_body, send_answer

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if not isinstance(event, dict) or not isinstance(event.get("service"), str):
            raise InvalidRequest(
                "The event must be an object with 'service' (a name) and 'message' (the body)."
            )
        action = event.get("action", "send")
        if action == "batch":
            return _batch(event, context)
        if action != "send":
            raise InvalidRequest("'action' must be 'send' (the default) or 'batch'.")
        message = event.get("message")
        # The send's message events go to their consumers in one publish.
        with runtime.message_records().held():
            outcome = runtime.dispatcher().dispatch(
                runtime.invoke_principal(),
                event["service"],
                parse_send_request(message),
                message,
                asynchronous=event.get("async") is True,
                idempotency_key=_key(event),
                lambda_context=context,
            )
    except EmailApiError as error:
        logger.info("invocation failed", extra={"status": error.status, "reason": error.reason})
        return error_body(error)
    _status, body = send_answer(outcome)
    return body


def _batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = event.get("batch")
    with runtime.message_records().held():
        outcome = runtime.batch_sender().send(
            runtime.invoke_principal(),
            event["service"],
            parse_batch(batch),
            batch,
            asynchronous=event.get("async") is True,
            idempotency_key=_key(event),
            lambda_context=context,
        )
    _status, body = batch_answer(outcome)
    return body


def _key(event: dict[str, Any]) -> str | None:
    key = event.get("idempotency_key")
    return key if isinstance(key, str) else None
