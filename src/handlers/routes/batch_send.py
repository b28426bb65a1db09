"""`POST /api/v2/{service}/batch`: many messages in one request, each with its own result;
sent now when few, else queued (`?async=true` or `Prefer: respond-async` queue any), at most
once per `Idempotency-Key`."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from core import runtime
from core.access.authentication import without_api_key
from handlers.answers import BatchAnswer, documented, errors
from handlers.http import caller
from handlers.request_bodies import BatchBody
from handlers.responses import batch_answer, json_response, quota_headers

router = Router()


@router.post(
    "/api/v2/<service>/batch",
    summary="Send a batch of emails",
    description="Up to 500 messages in one call: `messages` (send bodies, each as "
    "`POST /api/v2/{service}` takes it), or one `message` and its `recipients` (each gets a "
    "copy addressed to them alone, with their `template_data` over the message's). Every item "
    "gets its own result, in order; one item's failure does not stop the others. The role's "
    "`max_recipients` counts every recipient of the batch together; its rate limits count "
    "each item as a send, and an item past them fails with its 429. A batch of a few "
    "(`BATCH_SEND_NOW_MAX`, 10 unless set) is sent now; a larger one is queued.",
    tags=["send"],
    responses={
        200: documented("Sent now: each item's result (sent, or failed).", BatchAnswer),
        202: documented(
            "Queued for the worker: each item's result (queued, or failed).", BatchAnswer
        ),
        **errors(400, 401, 403, 404, 409, 503),
    },
)
def send_batch(
    service: str,
    batch: Annotated[BatchBody, Body(description="The batch.")],
    asynchronous: Annotated[
        str | None,
        Query(alias="async", description="`true` (or `1`): queue every item, answer 202."),
    ] = None,
    prefer: Annotated[
        str | None, Header(alias="Prefer", description="`respond-async` does as `?async=true`.")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Covers the whole batch: a repeat with the same key and body gets the "
            "first answer again and nothing is sent twice; another body is a 409.",
        ),
    ] = None,
) -> Response[str]:
    body = without_api_key(router.current_event.json_body)
    # The items' message events (accepted, then sent) go to their consumers in one publish.
    with runtime.message_records().held():
        outcome = runtime.batch_sender().send(
            caller(router),
            service,
            batch,
            body,
            asynchronous=_wants_async(asynchronous, prefer),
            idempotency_key=idempotency_key,
            lambda_context=router.lambda_context,
        )
    status, answer = batch_answer(outcome)
    return json_response(status, answer, quota_headers(outcome.quota))


def _wants_async(flag: str | None, prefer: str | None) -> bool:
    return (flag or "").lower() in ("true", "1") or "respond-async" in (prefer or "").lower()
