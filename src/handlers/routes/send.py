"""`POST /api/v2/{service}`: DreamFactory's send call, now or queued (`?async=true`,
`Prefer: respond-async` or `send_at`), at most once per `Idempotency-Key`."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from core.dispatch import dispatch
from handlers.answers import QueuedAnswer, SentAnswer, documented, errors
from handlers.http import caller
from handlers.request_bodies import SendBody
from handlers.responses import json_response, quota_headers, send_answer

router = Router()


@router.post(
    "/api/v2/<service>",
    summary="Send an email",
    description='DreamFactory\'s send call: the same body, the same `{"count": N}` answer. '
    "At least one recipient and one body are required; `{placeholder}`s in the subject and "
    "bodies take their values from `template_data` (or other top-level strings).",
    tags=["send"],
    responses={
        200: documented("Sent: the SMTP server accepted `count` recipients.", SentAnswer),
        202: documented("Queued for the worker, or scheduled for `send_at`.", QueuedAnswer),
        **errors(400, 401, 403, 404, 409, 413, 429, 502, 504),
    },
)
def send_email(
    service: str,
    request: Annotated[SendBody, Body(description="DreamFactory's email body.")],
    asynchronous: Annotated[
        str | None,
        Query(alias="async", description="`true` (or `1`): queue it and answer 202 at once."),
    ] = None,
    prefer: Annotated[
        str | None, Header(alias="Prefer", description="`respond-async` does as `?async=true`.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="A repeat with the same key and body gets the first answer again; "
            "nothing is sent twice.",
        ),
    ] = None,
) -> Response[str]:
    outcome = dispatch(
        caller(router),
        service,
        request,
        router.current_event.json_body,  # what the idempotency key is held to; parsed once
        asynchronous=_wants_async(asynchronous, prefer),
        idempotency_key=idempotency_key,
        lambda_context=router.lambda_context,
    )
    status, body = send_answer(outcome)
    return json_response(status, body, quota_headers(outcome.quota))


def _wants_async(flag: str | None, prefer: str | None) -> bool:
    return (flag or "").lower() in ("true", "1") or "respond-async" in (prefer or "").lower()
