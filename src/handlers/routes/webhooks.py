"""`/api/v2/system/webhook`: endpoints told of message events, their delivery logs, and a test
call. The signing secret is answered once, by the POST that creates it."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from core import runtime
from core.access.audit import audit
from core.webhooks.model import Attempt, CreatedWebhook, Webhook
from core.webhooks.subscriptions import WEBHOOK_ID_PATTERN
from core.webhooks.url import shown
from handlers.answers import (
    DeletedWebhook,
    WebhookDeliveries,
    WebhookList,
    documented,
    errors,
)
from handlers.http import caller
from handlers.request_bodies import PingBody, WebhookBody
from handlers.responses import json_response

router = Router()
TAGS = ["webhooks"]
PATH = "/api/v2/system/webhook"
WebhookId = Annotated[str, Path(pattern=WEBHOOK_ID_PATTERN, description="The webhook's id.")]


@router.get(
    PATH,
    summary="List webhooks",
    tags=TAGS,
    responses={200: documented("Every webhook; never a secret.", WebhookList), **errors(401, 403)},
)
def list_webhooks() -> dict[str, Any]:
    return {"resource": [webhook.model_dump(mode="json") for webhook in runtime.webhooks().all()]}


@router.post(
    PATH,
    summary="Create a webhook",
    description="Its calls are signed with the `secret` answered here, this once.",
    tags=TAGS,
    responses={
        201: documented("Created: its `secret` is shown this once.", CreatedWebhook),
        **errors(400, 401, 403, 404),
    },
)
def create_webhook(
    webhook: Annotated[WebhookBody, Body(description="Where to call, for which events.")],
) -> Response[str]:
    created = runtime.webhooks().subscribe(webhook)
    audit(caller(router), "webhook.create", created.id, url=shown(created.url))
    return json_response(201, created.model_dump(mode="json"))


@router.get(
    f"{PATH}/<webhook_id>",
    summary="Get a webhook",
    tags=TAGS,
    responses={
        200: documented("The webhook; never its secret.", Webhook),
        **errors(400, 401, 403, 404),
    },
)
def get_webhook(webhook_id: WebhookId) -> dict[str, Any]:
    return runtime.webhooks().get(webhook_id).model_dump(mode="json")


@router.delete(
    f"{PATH}/<webhook_id>",
    summary="Delete a webhook",
    description="Its secret and delivery log go too; calls still queued are dropped.",
    tags=TAGS,
    responses={200: documented("Deleted.", DeletedWebhook), **errors(400, 401, 403, 404)},
)
def delete_webhook(webhook_id: WebhookId) -> dict[str, Any]:
    runtime.webhooks().remove(webhook_id)
    audit(caller(router), "webhook.delete", webhook_id)
    return {"id": webhook_id}


@router.get(
    f"{PATH}/<webhook_id>/deliveries",
    summary="A webhook's delivery log",
    description="Every attempt of the last 14 days, newest first, a page at a time.",
    tags=TAGS,
    responses={
        200: documented("One page of attempts.", WebhookDeliveries),
        **errors(400, 401, 403, 404),
    },
)
def list_deliveries(
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=100, description="Attempts per page.")] = 100,
    cursor: Annotated[
        str | None, Query(description="The `meta.next_cursor` of the page before.")
    ] = None,
) -> dict[str, Any]:
    page = runtime.webhooks().deliveries(webhook_id, limit=limit, cursor=cursor)
    return {
        "resource": [attempt.model_dump(mode="json") for attempt in page.attempts],
        "meta": {"next_cursor": page.next_cursor},
    }


@router.post(
    f"{PATH}/<webhook_id>/test",
    summary="Send a test call",
    description="A `ping` event, now, signed as any other; the answer says how it went (a "
    "200 whatever the endpoint answered), and the delivery log keeps it.",
    tags=TAGS,
    responses={200: documented("The attempt.", Attempt), **errors(400, 401, 403, 404)},
)
def ping_webhook(
    webhook_id: WebhookId,
    options: Annotated[
        PingBody | None, Body(description="Optional: no body, or `data` for the ping to carry.")
    ] = None,
) -> dict[str, Any]:
    attempt = runtime.webhooks().test(webhook_id, options.data if options else None)
    return attempt.model_dump(mode="json")
