"""`POST /api/v2/{service}`: DreamFactory's send call, now or queued (`?async=true`,
`Prefer: respond-async` or `send_at`), at most once per `Idempotency-Key`."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from core.dispatch import dispatch
from handlers.http import caller, json_body
from handlers.responses import json_response, quota_headers, send_answer

router = Router()


@router.post("/api/v2/<service>")
def send_email(service: str) -> Response[str]:
    event = router.current_event
    outcome = dispatch(
        caller(router),
        service,
        json_body(router),
        asynchronous=_wants_async(),
        idempotency_key=event.headers.get("Idempotency-Key"),
        lambda_context=router.lambda_context,
    )
    status, body = send_answer(outcome)
    return json_response(status, body, quota_headers(outcome.quota))


def _wants_async() -> bool:
    event = router.current_event
    flag = (event.query_string_parameters or {}).get("async", "")
    prefer = event.headers.get("Prefer") or ""
    return flag.lower() in ("true", "1") or "respond-async" in prefer.lower()
