"""Direct invocation by other Lambdas (IAM-authorized, no API key).

Event: `{"service": "email", "message": {...the body of POST /api/v2/email...}}`, optionally
with `"async": true` (queue it) and `"idempotency_key": "..."`. Returns the same body as the
HTTP API (`{"count": ...}`, `{"id": ..., "status": "queued"}`, or `{"error": {...}}`).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.errors import EmailApiError, InvalidRequest
from core.send_request import parse_send_request
from core.settings import check_settings
from handlers.observed import entry_point, logger
from handlers.responses import error_body, send_answer

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        if not isinstance(event, dict) or not isinstance(event.get("service"), str):
            raise InvalidRequest(
                "The event must be an object with 'service' (a name) and 'message' (the body)."
            )
        key = event.get("idempotency_key")
        message = event.get("message")
        # The send's message events go to their consumers in one publish.
        with runtime.message_records().held():
            outcome = runtime.dispatcher().dispatch(
                runtime.invoke_principal(),
                event["service"],
                parse_send_request(message),
                message,
                asynchronous=event.get("async") is True,
                idempotency_key=key if isinstance(key, str) else None,
                lambda_context=context,
            )
    except EmailApiError as error:
        logger.info("invocation failed", extra={"status": error.status, "reason": error.reason})
        return error_body(error)
    _status, body = send_answer(outcome)
    return body
