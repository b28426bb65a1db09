"""`/api/v2/{service}/messages/{id}`: what became of a message; cancelling a scheduled one.

A record names its recipients (bcc included), so it is shown only to keys of the role that
sent the message, and to admins; to anyone else it does not exist.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router

from core import runtime
from core.access import policy
from core.delivery.message_record import MessageRecord
from core.errors import NotFound
from handlers.answers import MessageView, documented, errors
from handlers.http import caller

router = Router()
TAGS = ["messages"]


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
    return _shown(runtime.message_repository().cancel(message_id))


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
