"""Direct invocation by other Lambdas (IAM-authorized, no API key).

Event: `{"service": "email", "message": {...the same body as POST /api/v2/email...}}`.
Returns the same result object as the HTTP API, or `{"error": {...}}` with the same envelope.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.errors import EmailApiError, InvalidRequest
from core.send_request import parse_send_request

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        service, message = _unpack(event)
        request = parse_send_request(message)
        deadline = runtime.send_deadline(context.get_remaining_time_in_millis())
        result = runtime.mailer().send(runtime.invoke_principal(), service, request, deadline)
        return result.as_response()
    except EmailApiError as error:
        logger.info("invocation failed", extra={"status": error.status, "reason": error.reason})
        return error.envelope()


def _unpack(event: Any) -> tuple[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("service"), str):
        raise InvalidRequest(
            "The event must be an object with 'service' (a name) and 'message' (the send body)."
        )
    return event["service"], event.get("message")
