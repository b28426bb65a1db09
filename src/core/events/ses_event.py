"""SES's event publishing records read into one typed model: bare, wrapped in an SNS
notification (`Type: Notification`, the event JSON in `Message`), or an EventBridge event
(the SES event in `detail`). Also takes SES's older notification form (`notificationType`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.errors import InvalidRequest


class EventType(StrEnum):
    SEND = "Send"
    DELIVERY = "Delivery"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    REJECT = "Reject"
    DELIVERY_DELAY = "DeliveryDelay"


# Where each event keeps its time and its recipients (SES's event publishing contents).
_DETAIL_KEY = {
    EventType.DELIVERY: "delivery",
    EventType.BOUNCE: "bounce",
    EventType.COMPLAINT: "complaint",
    EventType.REJECT: "reject",
    EventType.DELIVERY_DELAY: "deliveryDelay",
    EventType.SEND: "send",
}


@dataclass(frozen=True)
class RecipientEvent:
    """What one event says of one recipient."""

    address: str
    diagnostic: str | None = None


@dataclass(frozen=True)
class SesEvent:
    type: EventType
    provider_message_id: str  # SES's `mail.messageId`
    at: str  # the event's own time (ISO 8601), else the mail's
    sent_at: str  # when SES took the mail (`mail.timestamp`, ISO 8601), "" if it says not
    recipients: tuple[RecipientEvent, ...]
    bounce_type: str | None = None  # Permanent | Transient | Undetermined
    bounce_subtype: str | None = None

    @property
    def permanent_bounce(self) -> bool:
        return self.type is EventType.BOUNCE and self.bounce_type == "Permanent"


def parse_ses_event(payload: Any) -> SesEvent:
    """The SES event in `payload`; `InvalidRequest` when it is none."""
    event = _unwrapped(payload)
    kind = event.get("eventType", event.get("notificationType"))
    try:
        event_type = EventType(str(kind))
    except ValueError:
        raise InvalidRequest(f"Not an SES event type: {kind!r}.", reason="invalid_event") from None
    mail = event.get("mail")
    if not isinstance(mail, dict) or not isinstance(mail.get("messageId"), str):
        raise InvalidRequest("An SES event names its mail.messageId.", reason="invalid_event")
    detail = event.get(_DETAIL_KEY[event_type]) or {}
    if not isinstance(detail, dict):
        raise InvalidRequest("The SES event's detail is no object.", reason="invalid_event")
    return SesEvent(
        type=event_type,
        provider_message_id=mail["messageId"],
        at=str(detail.get("timestamp") or mail.get("timestamp") or ""),
        sent_at=str(mail.get("timestamp") or ""),
        recipients=_recipients(event_type, detail, mail),
        bounce_type=detail.get("bounceType") if event_type is EventType.BOUNCE else None,
        bounce_subtype=detail.get("bounceSubType") if event_type is EventType.BOUNCE else None,
    )


def _unwrapped(payload: Any) -> dict[str, Any]:
    if isinstance(payload, str | bytes):
        try:
            payload = json.loads(payload)
        except ValueError:
            raise InvalidRequest("An SES event is JSON.", reason="invalid_event") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("An SES event is a JSON object.", reason="invalid_event")
    if payload.get("Type") == "Notification" and "Message" in payload:
        return _unwrapped(payload["Message"])  # SNS
    if isinstance(payload.get("detail"), dict) and "detail-type" in payload:
        return _unwrapped(payload["detail"])  # EventBridge
    return payload


def _recipients(
    event_type: EventType, detail: dict[str, Any], mail: dict[str, Any]
) -> tuple[RecipientEvent, ...]:
    """Who the event is about: a bounce's and a complaint's own lists, a delivery's and a
    delay's `recipients` (with a delay's diagnostic), else every address the mail went to."""
    if event_type is EventType.BOUNCE:
        return tuple(
            RecipientEvent(str(r["emailAddress"]), r.get("diagnosticCode") or r.get("status"))
            for r in detail.get("bouncedRecipients", [])
        )
    if event_type is EventType.COMPLAINT:
        return tuple(
            RecipientEvent(str(r["emailAddress"])) for r in detail.get("complainedRecipients", [])
        )
    if event_type is EventType.DELIVERY_DELAY:
        return tuple(
            RecipientEvent(str(r["emailAddress"]), r.get("diagnosticCode"))
            for r in detail.get("delayedRecipients", [])
        )
    if event_type is EventType.DELIVERY and detail.get("recipients"):
        return tuple(RecipientEvent(str(address)) for address in detail["recipients"])
    if event_type is EventType.REJECT:
        reason = detail.get("reason")
        return tuple(RecipientEvent(str(a), reason) for a in mail.get("destination", []))
    return tuple(RecipientEvent(str(address)) for address in mail.get("destination", []))
