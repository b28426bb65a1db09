"""A webhook subscription, the call it receives, and the log of delivery attempts. No AWS here:
the DynamoDB adapter is `core.webhooks.store`."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from core.message_events.model import MessageEvent, MessageEventType
from core.services.model import SERVICE_NAME

# Subscribing to `*` means every event type, those added later included.
EVERY_EVENT = "*"
# The type of the test call (`POST /api/v2/system/webhook/{id}/test`); no message has it.
PING = "ping"

EventName = Annotated[
    str,
    StringConstraints(pattern=r"^(\*|" + "|".join(kind.value for kind in MessageEventType) + r")$"),
]

_EXAMPLE: dict[str, JsonValue] = {
    "id": "wh_4f0c2d9a7b1e4c3f",
    "url": "https://hooks.example.com/email",
    "events": ["delivered", "bounced", "complained"],
    "service": "email",
    "description": "CRM bounce handling",
    "created_at": "2026-12-01T09:30:00+00:00",
}


class PingInput(BaseModel):
    """What a test call may carry beyond its own fields (optional)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"data": {"note": "hello"}}]}
    )

    data: dict[
        Annotated[str, StringConstraints(max_length=64)],
        Annotated[str, StringConstraints(max_length=1000)],
    ] = Field(default_factory=dict, max_length=20, description="Put in the ping's `data`.")


class WebhookInput(BaseModel):
    """What an admin subscribes: where to call, for which events, of which service (all when
    absent)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{key: _EXAMPLE[key] for key in ("url", "events", "service")}]
        },
    )

    url: str = Field(min_length=1, max_length=2048, description="An https URL.")
    events: list[EventName] = Field(
        min_length=1,
        max_length=len(MessageEventType) + 1,
        description="Event types to be told of; `*` for every one.",
    )
    service: str | None = Field(
        default=None, pattern=SERVICE_NAME.pattern, description="Only this service's events."
    )
    description: str | None = Field(default=None, max_length=200)


class Webhook(BaseModel):
    """A subscription as the API shows it: never its secret."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, json_schema_extra={"examples": [_EXAMPLE]}
    )

    id: str
    url: str
    events: list[str]
    service: str | None = None
    description: str | None = None
    created_at: str

    def wants(self, event: MessageEvent) -> bool:
        """Whether `event` is one this subscription is to be told of."""
        if self.service is not None and event.service != self.service:
            return False
        return EVERY_EVENT in self.events or event.type.value in self.events


class StoredWebhook(Webhook):
    """The table's item: the subscription and where its signing secret is kept."""

    secret_id: str

    def public(self) -> Webhook:
        return Webhook.model_validate(self.model_dump(exclude={"secret_id"}))


class CreatedWebhook(Webhook):
    """What creating a subscription answers, once: the record and its signing secret."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_EXAMPLE, "secret": "whsec_" + "Q" * 43}]}
    )

    secret: str = Field(description="Shown this once: keep it to verify the signatures.")


def payload_of(event: MessageEvent) -> dict[str, Any]:
    """The JSON object a webhook receives for `event` (`recipient` only for a recipient's)."""
    payload: dict[str, Any] = {
        "id": event.id,
        "type": event.type.value,
        "message_id": event.message_id,
        "service": event.service,
        "at": event.at.isoformat(),
        "data": event.data,
    }
    if event.recipient is not None:
        payload["recipient"] = event.recipient
    return payload


def body_of(payload: dict[str, Any]) -> bytes:
    """The bytes sent (and signed): compact JSON, in one spelling for one payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class DeliveryJob(BaseModel):
    """One call to make: the queue carries one per (subscription, event), so an endpoint that
    is down holds up nothing but its own calls."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_id: str
    payload: dict[str, Any]


class Outcome(StrEnum):
    DELIVERED = "delivered"  # a 2xx
    RETRYING = "retrying"  # it failed; another attempt is queued
    FAILED = "failed"  # it failed for the last time


class Attempt(BaseModel):
    """One attempt's line in an endpoint's delivery log."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "webhook_id": _EXAMPLE["id"],
                    "event_id": "6c1e0a9f3b2d4e8f7a6b5c4d3e2f1a0b",
                    "type": "bounced",
                    "attempt": 2,
                    "outcome": "retrying",
                    "status": 503,
                    "error": "answered HTTP 503",
                    "seconds": 0.412,
                    "at": "2026-12-01T09:31:12+00:00",
                    "next_attempt_in": 60,
                }
            ]
        },
    )

    webhook_id: str
    event_id: str
    type: str
    attempt: int
    outcome: Outcome
    status: int | None = Field(default=None, description="The endpoint's HTTP status, if any.")
    error: str | None = Field(default=None, description="What went wrong, in our words.")
    seconds: float
    at: str
    next_attempt_in: int | None = Field(default=None, description="Seconds, when retrying.")


class AttemptPage(BaseModel):
    model_config = ConfigDict(frozen=True)

    attempts: list[Attempt]
    next_cursor: str | None = None
