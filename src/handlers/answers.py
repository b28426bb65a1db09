"""What the API answers, as models for its OpenAPI document (`DocumentOnly`: built when the
document is made). `handlers.responses` writes the send answers and the error envelope;
tests/unit/test_openapi.py holds the two to each other."""

from __future__ import annotations

from types import GenericAlias
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model

from core.access.model import ApiKey, Role
from core.delivery.message_record import PRIVATE_FIELDS, MessageRecord
from core.services.model import Service
from core.stats.model import DAY_STATS_EXAMPLE, DayStats, Thresholds
from core.suppression.model import Suppression
from core.templates.model import EmailTemplate
from core.webhooks.model import Attempt, Webhook
from handlers.documentation import DocumentOnly

# --- the send call ----------------------------------------------------------------------------


class SentAnswer(DocumentOnly):
    """200: the SMTP server took the message. `count` is DreamFactory's: recipients accepted."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "count": 2,
                    "id": "9b2f6c1e4d8a4f0e9c3b7a1d2e5f6a7b",
                    "message_id": "<173.9b2f6c1e@example.com>",
                    "refused": {"gone@example.com": "550 5.1.1 No such user"},
                }
            ]
        },
    )

    count: int
    id: str = Field(description="The message's id here: GET /api/v2/{service}/messages/{id}.")
    message_id: str = Field(description="The Message-ID header it was sent with.")
    refused: dict[str, str] | None = Field(
        default=None, description="Recipients the server refused, with its reply; absent if none."
    )
    suppressed: list[str] | None = Field(
        default=None,
        description="Recipients left out of the envelope: on the suppression list (the"
        " headers still show them). Not counted in `count`; absent if none.",
    )


class QueuedAnswer(DocumentOnly):
    """202: queued for the worker (`?async=true`, `Prefer: respond-async`), or scheduled."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "id": "9b2f6c1e4d8a4f0e9c3b7a1d2e5f6a7b",
                    "status": "scheduled",
                    "message_id": "<173.9b2f6c1e@example.com>",
                    "send_at": "2026-12-24T09:00:00+00:00",
                }
            ]
        },
    )

    id: str
    status: str = Field(description="`queued`, or `scheduled` when it has a `send_at`.")
    message_id: str
    send_at: str | None = None
    suppressed: list[str] | None = Field(
        default=None,
        description="Recipients on the suppression list, left out; absent if none. The worker"
        " reads the list again when it sends.",
    )


class ErrorDetail(DocumentOnly):
    model_config = ConfigDict(extra="forbid")

    code: int = Field(description="The HTTP status, as DreamFactory puts it.")
    status_code: int = Field(description="The HTTP status again: DreamFactory sends both.")
    message: str
    reason: str = Field(description="A stable machine-readable cause, e.g. `invalid_address`.")
    context: dict[str, Any] | None = None


class ErrorAnswer(DocumentOnly):
    """DreamFactory's error envelope, with the reason clients can branch on."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": 400,
                        "status_code": 400,
                        "message": "Invalid email - 'not-an-address'.",
                        "reason": "invalid_address",
                        "context": {"field": "to"},
                    }
                }
            ]
        },
    )

    error: ErrorDetail


# --- a batch ----------------------------------------------------------------------------------


class BatchItemAnswer(DocumentOnly):
    """One item's result: `sent` (with the single send's fields), `queued` / `scheduled`
    (with its id), or `failed` (with the error its own send would have answered)."""

    model_config = ConfigDict(extra="forbid")

    index: int = Field(description="The item's place in the batch, from 0.")
    status: str = Field(description="`sent`, `queued`, `scheduled` or `failed`.")
    id: str | None = Field(
        default=None, description="The message's id: GET /api/v2/{service}/messages/{id}."
    )
    message_id: str | None = None
    count: int | None = Field(default=None, description="`sent`: recipients the server took.")
    refused: dict[str, str] | None = None
    suppressed: list[str] | None = None
    send_at: str | None = None
    error: ErrorDetail | None = Field(
        default=None, description="`failed`: DreamFactory's error body, as a send answers it."
    )


class BatchAnswer(DocumentOnly):
    """Every item's result, in the batch's order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "results": [
                        {
                            "index": 0,
                            "status": "sent",
                            "id": "9b2f6c1e4d8a4f0e9c3b7a1d2e5f6a7b",
                            "message_id": "<173.9b2f6c1e@example.com>",
                            "count": 1,
                        },
                        {
                            "index": 1,
                            "status": "failed",
                            "error": {
                                "code": 400,
                                "status_code": 400,
                                "message": "Invalid email - 'not-an-address'.",
                                "reason": "invalid_address",
                                "context": {"field": "to"},
                            },
                        },
                    ]
                }
            ]
        },
    )

    results: list[BatchItemAnswer]


# --- what the admin routes show ----------------------------------------------------------------


def public_view(
    name: str,
    stored: type[BaseModel],
    hidden: set[str],
    example: dict[str, Any],
    **added: Any,
) -> type[BaseModel]:
    """The model of what `stored.public()` shows: its fields less the `hidden` ones, plus any
    `added` (name=(type, Field(...)))."""
    fields: dict[str, Any] = {
        field: (info.annotation, info)
        for field, info in stored.model_fields.items()
        if field not in hidden
    }
    view: type[BaseModel] = create_model(
        name,
        __base__=DocumentOnly,
        __config__=ConfigDict(json_schema_extra={"examples": [example]}),
        __doc__=stored.__doc__,
        **fields,
        **added,
    )
    return view


ServiceView = public_view(
    "ServiceView",
    Service,
    {"secret_id", "secret_version"},
    {
        "name": "email",
        "label": "Mail",
        "description": "Amazon SES through its SMTP endpoint",
        "type": "smtp_email",
        "is_active": True,
        "config": {
            "host": "email-smtp.us-east-1.amazonaws.com",
            "port": 587,
            "encryption": "tls",
            "verify_tls": True,
            "username": "AKIAEXAMPLE",
            "from_name": "Example Shop",
            "from_email": "shop@example.com",
            "unknown_outcome": "hold",
            "parameters": [{"name": "company", "value": "Example Shop", "active": True}],
            "escape_html_values": True,
        },
        "created_at": "2026-11-30T12:00:00+00:00",
        "updated_at": "2026-11-30T12:00:00+00:00",
    },
)

ApiKeyView = public_view(
    "ApiKeyView",
    ApiKey,
    {"secret_hash", "previous_secret_hash"},
    {
        "id": "3f9a2b7c1d4e5f60",
        "label": "billing app (production)",
        "role": "billing",
        "enabled": True,
        "created_at": "2026-11-30T12:00:00+00:00",
        "last_used_at": "2026-11-30T12:05:00+00:00",
    },
)


# Created or rotated: the only time a key's token is ever shown.
NewApiKey = public_view(
    "NewApiKey",
    ApiKey,
    {"secret_hash", "previous_secret_hash"},
    {
        "id": "3f9a2b7c1d4e5f60",
        "label": "billing app (production)",
        "role": "billing",
        "enabled": True,
        "created_at": "2026-11-30T12:00:00+00:00",
        "key": "3f9a2b7c1d4e5f60.q1Xb0dXvN3mWc8kZr2Ty7uPa9sLe4fGh6jKo5nMi0wE",
    },
    key=(str, Field(description="Send it as X-DreamFactory-API-Key; it is stored only hashed.")),
)


MessageView = public_view(
    "MessageView",
    MessageRecord,
    set(PRIVATE_FIELDS),
    {
        "id": "9b2f6c1e4d8a4f0e9c3b7a1d2e5f6a7b",
        "service": "email",
        "key_id": "3f9a2b7c1d4e5f60",
        "role": "billing",
        "message_id": "<173.9b2f6c1e@example.com>",
        "status": "sent",
        "attempts": 1,
        "recipients": ["john@example.com"],
        "tags": ["invoice", "customer:1042"],
        "accepted": ["john@example.com"],
        "reply": "250 2.0.0 Ok: queued as 4Xk2Lp0Yz7",
        "provider_message_id": "4Xk2Lp0Yz7",
        "smtp_reply": "250 2.0.0 Ok: queued as 4Xk2Lp0Yz7",
        "created_at": "2026-11-30T12:00:00+00:00",
        "updated_at": "2026-11-30T12:00:01+00:00",
    },
    smtp_reply=(
        str | None,
        Field(
            description="The same as `reply`, under its earlier name: kept for existing clients."
        ),
    ),
)


def resource_list(name: str, item: type[BaseModel]) -> type[BaseModel]:
    """DreamFactory's list answer: `{"resource": [item, ...]}`."""
    # `list[item]`, spelled so for an item model made at run time.
    resource: Any = (GenericAlias(list, (item,)), ...)
    listed: type[BaseModel] = create_model(name, __base__=DocumentOnly, resource=resource)
    return listed


class CountMeta(DocumentOnly):
    count: int = Field(
        description="How many records `filter` and `ids` select, before `offset` and `limit`."
    )


def record_list(name: str, item: type[BaseModel]) -> type[BaseModel]:
    """A system resource's list: `{"resource": [item, ...]}`, with `meta.count` when asked
    (`include_count=true`), as DreamFactory's admin interface reads it."""
    meta: Any = (CountMeta | None, Field(default=None, description="With `include_count`."))
    listed: type[BaseModel] = create_model(
        name, __base__=resource_list(f"{name}Records", item), meta=meta
    )
    return listed


ServiceList = record_list("ServiceList", ServiceView)
RoleList = record_list("RoleList", Role)
ApiKeyList = record_list("ApiKeyList", ApiKeyView)
EmailTemplateList = record_list("EmailTemplateList", EmailTemplate)


class SelectedRecord(DocumentOnly):
    """A record with only the fields `fields=...` named."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"id": 1, "name": "welcome"}]}
    )


class SelectedFields(DocumentOnly):
    """A list with `fields=...`: each record with only the fields named."""

    resource: list[SelectedRecord]
    meta: CountMeta | None = None


class RecordCount(RootModel[int]):
    """`count_only=true`: how many records are selected, the number alone."""

    model_config = ConfigDict(defer_build=True, json_schema_extra={"examples": [3]})


def listed(records: str, item_list: type[BaseModel]) -> OpenAPIResponse:
    """A list route's 200: the records, only some of their fields, or (`count_only`) a count."""
    return documented(
        f"{records}; with `fields`, only those fields; with `count_only=true`, the count alone.",
        item_list | SelectedFields | RecordCount,
    )


class PageMeta(DocumentOnly):
    next_cursor: str | None = Field(
        description="Pass it as `cursor` (with the same filters) for the next page; null on "
        "the last."
    )


# A page of message records, newest first: `{"resource": [...], "meta": {"next_cursor"}}`.
MessagePageAnswer: type[BaseModel] = create_model(
    "MessagePage",
    __base__=resource_list("MessageList", MessageView),
    meta=(PageMeta, ...),
)


class SuppressionList(DocumentOnly):
    """A page of the suppression list: `{"resource": [...], "meta": {"next_cursor": ...}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resource": [
                        {
                            "email": "gone@example.com",
                            "scope": "*",
                            "reason": "manual",
                            "added_at": "2026-11-30T12:00:00+00:00",
                            "source": {"key_id": "3f9a2b7c1d4e5f60"},
                        }
                    ],
                    "meta": {"next_cursor": None},
                }
            ]
        }
    )

    resource: list[Suppression]
    meta: PageMeta


class StatsMeta(DocumentOnly):
    since: str = Field(description="The first day of the range (`YYYY-MM-DD`, UTC).")
    until: str = Field(description="The last day of the range, included.")
    thresholds: Thresholds = Field(
        description="SES's review and pause thresholds, as fractions: a day's `flags` name"
        " those its rates reach."
    )
    totals: dict[str, int | float | None] = Field(
        description="Every counter summed over the rows, with the sums' rates."
    )


class StatsAnswer(DocumentOnly):
    """The daily counters: `{"resource": [a row per service and day], "meta": {...}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resource": [DAY_STATS_EXAMPLE],
                    "meta": {
                        "since": "2026-11-01",
                        "until": "2026-11-30",
                        "thresholds": {
                            "bounce_review": 0.05,
                            "bounce_pause": 0.1,
                            "complaint_review": 0.001,
                            "complaint_pause": 0.005,
                        },
                        "totals": {"accepted": 120, "sent": 118, "bounce_rate": 0.053846},
                    },
                }
            ]
        }
    )

    resource: list[DayStats]
    meta: StatsMeta


class DeletedSuppression(DocumentOnly):
    """What removing an address answers: the entry's address and scope."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "gone@example.com", "scope": "*"}]}
    )

    email: str
    scope: str


WebhookList = resource_list("WebhookList", Webhook)


class WebhookDeliveries(DocumentOnly):
    """A page of an endpoint's delivery log, newest first."""

    resource: list[Attempt]
    meta: PageMeta


class DeletedWebhook(DocumentOnly):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "wh_" + "0" * 32}]})

    id: str


class DeletedRecord(DocumentOnly):
    """What deleting a service or role answers: DreamFactory's `id` (all its DELETE answers),
    and the name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 3, "name": "billing"}]})

    id: int
    name: str


class DeletedTemplate(DocumentOnly):
    """What deleting a template answers: DreamFactory's `id`, and the name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"id": 1, "name": "order_shipped"}]})

    id: int
    name: str


class DeletedKey(DocumentOnly):
    model_config = ConfigDict(json_schema_extra={"examples": [{"id": "3f9a2b7c1d4e5f60"}]})

    id: str


# --- the document's responses -------------------------------------------------------------------

# What each error status means, wherever a route can answer it.
ERROR_WHEN = {
    400: "The request is invalid: a bad address, no recipient, no body, bad base64, header"
    " injection, malformed JSON.",
    401: "No API key, or one that is unknown, disabled or expired.",
    403: "The key's role may not do this (this service, this sender, an admin route).",
    404: "No such service, message, role or key.",
    409: "It exists already, or the Idempotency-Key was used with another body or is in use.",
    413: "The message is over the size limit.",
    422: "Every recipient is on the suppression list (`all_recipients_suppressed`): nothing"
    " was sent.",
    429: "A rate limit was hit; `Retry-After` says when to come back.",
    502: "The SMTP server refused us (authentication, TLS, the message), or its fate is unknown.",
    503: "The queue did not take the message (`enqueue_failed`): nothing will be sent; retry.",
    504: "The SMTP server did not answer in time.",
}


def documented(description: str, model: Any) -> OpenAPIResponse:
    """A response of the OpenAPI document: a JSON body shaped as `model`."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def errors(*statuses: int) -> dict[int, OpenAPIResponse]:
    """DreamFactory's error envelope, for each of `statuses`."""
    return {status: documented(ERROR_WHEN[status], ErrorAnswer) for status in statuses}
