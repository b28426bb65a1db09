"""The files in `events/`: the API Gateway and direct-invocation events every layer sends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"

SEND_EVENTS = (
    "send-basic.json",
    "send-html.json",
    "send-multiple-recipients.json",
    "send-custom-sender.json",
    "send-attachment.json",
    "send-template.json",
)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.glob("*.json"))


def is_api_event(event: dict[str, Any]) -> bool:
    """An API Gateway proxy event, as opposed to a direct invocation of the send function."""
    return "httpMethod" in event


def is_scheduled_event(event: dict[str, Any]) -> bool:
    """A Schedule event source's tick (EventBridge), as the repair function gets it."""
    return event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def is_sqs_event(event: dict[str, Any]) -> bool:
    """A batch from the send queue, as Lambda's SQS event source hands it to the worker."""
    records = event.get("Records")
    return isinstance(records, list) and all(r.get("eventSource") == "aws:sqs" for r in records)


def send_body(name: str) -> dict[str, Any]:
    """The JSON body an API Gateway send event carries."""
    body: dict[str, Any] = json.loads(load_event(name)["body"])
    return body


# The clearly fake key the events carry; tests make it the admin key so events run unchanged.
EVENTS_API_KEY: str = load_event("send-basic.json")["headers"]["X-DreamFactory-API-Key"]
