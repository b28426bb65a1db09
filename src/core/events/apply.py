"""An SES event applied: the message's record moves each named recipient on (see
`core.delivery.recipient_status`), and a permanent bounce or a complaint puts the address on
the suppression list: account-wide, or for the message's service alone when its
`suppression_scope` is `service`. A transient bounce suppresses nothing.

Each recipient whose state the event moved yields a message event (`delivered`, `bounced`,
`complained`, `delayed`), once: a duplicate moves nobody, nor does an event the ladder ranks
below where the recipient stands. A Send yields none (the record's settle said `sent`)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from core.clock import parse_iso
from core.delivery.message_record import MessageRecord
from core.delivery.recipient_status import (
    MAX_EVENTS,
    EventEntry,
    RecipientState,
    RecipientStatus,
    moved_on,
)
from core.errors import NotFound
from core.events.ses_event import EventType, SesEvent
from core.message_events.model import MessageEvent, MessageEventType
from core.ports import MessageEventSink, RecordEvents, ServiceStore
from core.services.model import Service
from core.suppression.model import Reason, Source, bounce_scope
from core.suppression.suppressions import Suppressions

# What a Reject or a transient bounce leaves a recipient at: the ladder has no `rejected`
# (SES refused the whole message: it never left), so a reject reads as a bounce.
_STATE_OF = {
    EventType.SEND: RecipientState.SENT,
    EventType.DELIVERY: RecipientState.DELIVERED,
    EventType.BOUNCE: RecipientState.BOUNCED,
    EventType.COMPLAINT: RecipientState.COMPLAINED,
    EventType.REJECT: RecipientState.BOUNCED,
    EventType.DELIVERY_DELAY: RecipientState.DELAYED,
}
# The message event of a recipient's move to a state (none for `sent`: see above).
_MESSAGE_EVENT_OF = {
    RecipientState.DELIVERED: MessageEventType.DELIVERED,
    RecipientState.BOUNCED: MessageEventType.BOUNCED,
    RecipientState.COMPLAINED: MessageEventType.COMPLAINED,
    RecipientState.DELAYED: MessageEventType.DELAYED,
}
# A record changed by another event between our read and our write is read again, this often.
_ATTEMPTS = 5


class Applied(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # every recipient's part of it was seen before
    UNKNOWN_MESSAGE = "unknown_message"  # no record has its id (not ours, or expired)


class EventApplier:
    def __init__(
        self,
        records: RecordEvents,
        suppressions: Suppressions,
        events: MessageEventSink,
        *,
        services: ServiceStore,
    ) -> None:
        self._records = records
        self._suppressions = suppressions
        self._events = events
        self._services = services

    def apply(self, event: SesEvent) -> Applied:
        record = self._records.find_by_provider_id(event.provider_message_id)
        if record is None:
            return Applied.UNKNOWN_MESSAGE
        outcome = Applied.DUPLICATE
        for _ in range(_ATTEMPTS):
            seen = {entry.id for entry in record.events}
            new = [r for r in event.recipients if event_id(event, r.address) not in seen]
            if not new:
                break
            statuses = dict(record.recipients_status)
            for recipient in new:
                update = RecipientStatus(
                    state=_STATE_OF[event.type],
                    at=event.at,
                    bounce_type=event.bounce_type,
                    bounce_subtype=event.bounce_subtype,
                    diagnostic=recipient.diagnostic,
                )
                statuses[recipient.address] = moved_on(statuses.get(recipient.address), update)
            entries = [
                EventEntry(
                    id=event_id(event, r.address), type=event.type, recipient=r.address, at=event.at
                )
                for r in new
            ]
            written = self._records.record_events(
                record, statuses, [*record.events, *entries][-MAX_EVENTS:]
            )
            if written is not None:
                outcome = Applied.APPLIED
                self._events.publish(_moved(written, record.recipients_status, event))
                break
            record = self._records.get(record.id)
        else:
            raise RuntimeError(f"Message {record.id}: events kept racing; the queue retries it.")
        # Suppressing is idempotent: a duplicate event suppresses again (a crash between the
        # record and the list must not leave the address off it).
        self._suppress(event, record.id, record.service)
        return outcome

    def _suppress(self, event: SesEvent, record_id: str, service: str) -> None:
        if event.permanent_bounce:
            reason = Reason.BOUNCE
        elif event.type is EventType.COMPLAINT:
            reason = Reason.COMPLAINT
        else:
            return
        source = Source(message_id=record_id, event=event.type.value)
        scope = bounce_scope(self._service(service))
        for recipient in event.recipients:
            self._suppressions.add(recipient.address, reason, scope=scope, source=source)

    def _service(self, name: str) -> Service | None:
        try:
            return self._services.by_name(name)
        except NotFound:
            return None  # deleted since it sent


def _moved(
    written: MessageRecord, before: dict[str, RecipientStatus], event: SesEvent
) -> list[MessageEvent]:
    """A message event for each recipient of `event` whose state the write changed."""
    moved = []
    for recipient in event.recipients:
        now = written.recipients_status.get(recipient.address)
        earlier = before.get(recipient.address)
        if now is None or (earlier is not None and earlier.state is now.state):
            continue
        kind = _MESSAGE_EVENT_OF.get(now.state)
        if kind is None:
            continue
        data = {
            "bounce_type": now.bounce_type,
            "bounce_subtype": now.bounce_subtype,
            "diagnostic": now.diagnostic,
            "provider_event": event.type.value,
            "provider_message_id": event.provider_message_id,
            # The sender's labels, as in the message's own events, for a receiver to match on.
            "tags": list(written.tags) or None,
            "metadata": dict(written.metadata) or None,
        }
        moved.append(
            MessageEvent(
                type=kind,
                message_id=written.id,
                service=written.service,
                recipient=recipient.address,
                at=_when(now.at),
                data={key: value for key, value in data.items() if value is not None},
            )
        )
    return moved


def _when(at: str) -> datetime:
    """The event's time, or now when SES gave none a reader can place."""
    try:
        when = parse_iso(at)
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def event_id(event: SesEvent, recipient: str) -> str:
    """One event about one recipient, however often it is delivered."""
    return f"{event.provider_message_id}:{event.type.value}:{recipient}:{event.at}"
