"""`POST /api/v2/{service}`: DreamFactory's send call."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from core import runtime
from core.send_request import parse_send_request
from handlers.http import caller, json_body, json_response

router = Router()


@router.post("/api/v2/<service>")
def send_email(service: str) -> Response[str]:
    request = parse_send_request(json_body(router))
    context = router.lambda_context
    deadline = runtime.send_deadline(context.get_remaining_time_in_millis() if context else None)
    result = runtime.mailer().send(caller(router), service, request, deadline)
    return json_response(200, result.as_response(), result.quota.headers() if result.quota else {})
