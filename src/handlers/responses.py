"""Core's results and errors as the API answers them: the one place DreamFactory's error
envelope and the rate-limit headers are written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from core.access.quota import Quota
from core.batch.outcome import BatchOutcome, ItemFailed, ItemResult, ItemSent
from core.errors import EmailApiError, RateLimited
from core.outcomes import Queued, SendOutcome, Sent
from handlers.methods import MethodNotAllowed


def error_body(error: EmailApiError) -> dict[str, Any]:
    """DreamFactory's error body (its clients read `code` or `status_code`), plus the stable
    `reason` clients can branch on."""
    return _envelope(error.status, error.message, error.reason, error.context)


def _envelope(status: int, message: str, reason: str, context: Mapping[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": status,
        "status_code": status,
        "message": message,
        "reason": reason,
    }
    if context:
        body["context"] = dict(context)
    return {"error": body}


def error_headers(error: EmailApiError) -> dict[str, str]:
    """What the error tells a client beyond its body: when to come back after a 429, which
    methods to use after a 405."""
    if isinstance(error, MethodNotAllowed):
        return {"Allow": ", ".join(error.allowed)}
    if isinstance(error, RateLimited):
        return {"Retry-After": str(error.retry_after), **quota_headers(error.quota)}
    return {}


def quota_headers(quota: Quota | None) -> dict[str, str]:
    """`X-RateLimit-*`: the caller's tightest window after this request (none without limits)."""
    if quota is None:
        return {}
    return {
        "X-RateLimit-Limit": str(quota.limit),
        "X-RateLimit-Remaining": str(quota.remaining),
        "X-RateLimit-Reset": str(quota.reset_at),
    }


def json_response(
    status: int, body: Any, headers: Mapping[str, str] | None = None
) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=dict(headers or {}),
    )


def error_response(error: EmailApiError) -> Response[str]:
    return json_response(error.status, error_body(error), error_headers(error))


def send_answer(outcome: SendOutcome) -> tuple[int, dict[str, Any]]:
    """The status and body a send answers with: DreamFactory's `{"count": N}` and what a
    caller needs to follow the message up; 202 when queued; the error when its fate is
    unknown."""
    if isinstance(outcome, Sent):
        body: dict[str, Any] = {
            "count": outcome.count,
            "id": outcome.id,
            "message_id": outcome.message_id,
        }
        if outcome.refused:
            body["refused"] = outcome.refused
        if outcome.suppressed:
            body["suppressed"] = outcome.suppressed
        return 200, body
    if isinstance(outcome, Queued):
        body = {"id": outcome.id, "status": outcome.status, "message_id": outcome.message_id}
        if outcome.send_at:
            body["send_at"] = outcome.send_at
        if outcome.suppressed:
            body["suppressed"] = outcome.suppressed
        return 202, body
    error = outcome.error()
    return error.status, error_body(error)


def batch_answer(outcome: BatchOutcome) -> tuple[int, dict[str, Any]]:
    """The status and body a batch answers with: 202 when it went to the queue, 200 when it
    was sent now, whatever each item came to (each result says, as Postmark's batch does)."""
    return (202 if outcome.queued else 200), {
        "results": [_item_answer(item) for item in outcome.results]
    }


def _item_answer(item: ItemResult) -> dict[str, Any]:
    if isinstance(item, ItemFailed):
        context = dict(item.context)
        if item.retry_after is not None:
            context["retry_after"] = item.retry_after
        error = _envelope(item.code, item.message, item.reason, context)
        return {"index": item.index, "status": item.status, **error}
    answer: dict[str, Any] = {
        "index": item.index,
        "status": item.status,
        "id": item.id,
        "message_id": item.message_id,
    }
    if isinstance(item, ItemSent):
        answer["count"] = item.count
        if item.refused:
            answer["refused"] = item.refused
    elif item.send_at:
        answer["send_at"] = item.send_at
    if item.suppressed:
        answer["suppressed"] = item.suppressed
    return answer
