"""`/api/v2/{service}/messages`: finding messages and what became of each; cancelling a
scheduled one. `/api/v2/system/message`: the same across services, for admins.

A record names its recipients (bcc included), so it is shown only to keys of the role that
sent the message, and to admins; to anyone else it does not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime

from core import runtime
from core.access import policy
from core.delivery.message_list import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MessagePage,
    MessageQuery,
    list_messages,
)
from core.delivery.message_record import MessageRecord, Status
from core.errors import NotFound
from core.send_request import TAG_PATTERN
from core.services.model import SERVICE_NAME
from core.validation import ISO_ONLY
from handlers.answers import MessagePageAnswer, MessageView, documented, errors
from handlers.http import caller

router = Router()
TAGS = ["messages"]

# The list's query parameters, shared by the service's list and the admins' one.
StatusFilter = Annotated[Status | None, Query(description="Only messages in this status.")]
RecipientFilter = Annotated[
    str | None,
    Query(max_length=320, description="Only messages to this address (to, cc or bcc)."),
]
TagFilter = Annotated[
    str | None, Query(pattern=TAG_PATTERN, description="Only messages sent with this tag.")
]
Since = Annotated[
    Annotated[AwareDatetime, ISO_ONLY] | None,
    Query(description="Only messages accepted at or after this time (ISO 8601, with a zone)."),
]
Until = Annotated[
    Annotated[AwareDatetime, ISO_ONLY] | None,
    Query(description="Only messages accepted at or before this time (ISO 8601, with a zone)."),
]
Limit = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"Messages per page, 1 to {MAX_LIMIT}.")
]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description="The previous page's `meta.next_cursor`."),
]
LIST_DESCRIPTION = (
    "Newest first, a page at a time: pass `meta.next_cursor` back as `cursor`, with the same "
    "filters, for the next page (null on the last). A page may hold fewer than `limit` "
    "messages and still have a next one, when the filters matched little of what was read."
)


@router.get(
    "/api/v2/<service>/messages",
    summary="Find messages",
    description=f"{LIST_DESCRIPTION} Keys see the messages of their own role; admins, all.",
    tags=TAGS,
    # 404: a path no service could have (API Gateway matches the route first).
    responses={
        200: documented("A page of messages.", MessagePageAnswer),
        **errors(400, 401, 403, 404),
    },
)
def find_messages(
    service: str,
    status: StatusFilter = None,
    recipient: RecipientFilter = None,
    tag: TagFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    role = caller(router).role
    if not role.admin:
        policy.check_service(role, service)
    query = MessageQuery(
        service=service,
        role=None if role.admin else role.name,
        status=status,
        recipient=recipient,
        tag=tag,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return _page(query)


@router.get(
    "/api/v2/system/message",
    summary="Find messages of every service",
    description=f"{LIST_DESCRIPTION} Admins only.",
    tags=TAGS,
    responses={200: documented("A page of messages.", MessagePageAnswer), **errors(400, 401, 403)},
)
def find_all_messages(
    service: Annotated[
        str | None, Query(pattern=SERVICE_NAME.pattern, description="Only this service's messages.")
    ] = None,
    status: StatusFilter = None,
    recipient: RecipientFilter = None,
    tag: TagFilter = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> dict[str, Any]:
    query = MessageQuery(
        service=service,
        role=None,
        status=status,
        recipient=recipient,
        tag=tag,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )
    return _page(query)


@router.get(
    "/api/v2/system/message/<message_id>",
    summary="Find a message by its id alone",
    description="What became of a message, whichever service sent it (its `service` says "
    "which). Admins only.",
    tags=TAGS,
    responses={200: documented("The message's record.", MessageView), **errors(401, 403, 404)},
)
def find_message(message_id: str) -> dict[str, Any]:
    return _shown(runtime.message_repository().get(message_id))


@router.get(
    "/api/v2/<service>/messages/<message_id>",
    summary="What became of a message",
    description="Its status and who accepted or refused it; never its body. Shown to keys of "
    "the role that sent it, and to admins.",
    tags=TAGS,
    responses={200: documented("The message's record.", MessageView), **errors(401, 403, 404)},
)
def get_message(service: str, message_id: str) -> dict[str, Any]:
    return _shown(_record(service, message_id))


@router.delete(
    "/api/v2/<service>/messages/<message_id>",
    summary="Cancel a scheduled message",
    description="Only while it waits (scheduled, queued or deferred).",
    tags=TAGS,
    responses={
        200: documented("The record, now cancelled.", MessageView),
        **errors(401, 403, 404, 409),
    },
)
def cancel_message(service: str, message_id: str) -> dict[str, Any]:
    _record(service, message_id)
    return _shown(runtime.message_records().cancel(message_id))


def _page(query: MessageQuery) -> dict[str, Any]:
    page: MessagePage = list_messages(runtime.message_repository(), query, now=datetime.now(UTC))
    return {
        "resource": [_shown(record) for record in page.records],
        "meta": {"next_cursor": page.next_cursor},
    }


def _record(service: str, message_id: str) -> MessageRecord:
    """The record, for its sender's role or an admin (others learn nothing of it)."""
    role = caller(router).role
    if not role.admin:
        policy.check_service(role, service)
    record = runtime.message_repository().get(message_id)
    if record.service != service or not (role.admin or record.role == role.name):
        raise NotFound(f"Message '{message_id}' not found.", reason="message_not_found")
    return record


def _shown(record: MessageRecord) -> dict[str, Any]:
    """The record as clients see it: `reply` is also `smtp_reply`, its name before providers
    other than SMTP servers, kept for existing clients."""
    return {**record.public(), "smtp_reply": record.reply}
