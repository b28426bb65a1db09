"""Message events from the record store's transitions: each conditional write that succeeds
says what it made true, once, and a write that loses (a duplicate SQS delivery, a racing
worker) says nothing.

    create          -> accepted (+ queued when it waits for the queue), suppressed per
                       recipient the list kept out
    settle          -> sent | deferred | failed | unknown | cancelled, and suppressed per
                       recipient the list newly kept out at this attempt
    expire_lease    -> unknown
    abandon         -> failed (enqueue_failed)
    cancel          -> cancelled

Events are published as they happen, or, inside `held()`, together when it ends: the worker
holds a whole batch's, so its consumers get one publish per invocation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol, Unpack

from core.clock import parse_iso
from core.delivery.message_record import MessageRecord, RecordChanges, Status
from core.message_events.model import MessageEvent, MessageEventType
from core.ports import MessageEventSink, RecordStore

# A record's status, as the event its move to it produces.
_EVENT_OF_STATUS = {
    Status.SENT: MessageEventType.SENT,
    Status.DEFERRED: MessageEventType.DEFERRED,
    Status.FAILED: MessageEventType.FAILED,
    Status.UNKNOWN: MessageEventType.UNKNOWN,
    Status.CANCELLED: MessageEventType.CANCELLED,
}


class CancellableRecords(RecordStore, Protocol):
    def cancel(self, record_id: str) -> MessageRecord: ...


class RecordsWithEvents:
    """A `RecordStore` (and `cancel`) whose successful transitions produce message events."""

    def __init__(self, records: CancellableRecords, sink: MessageEventSink) -> None:
        self._records = records
        self._sink = sink
        # The events held: in the context of the code that holds them (the local stack runs
        # the API and the worker side by side, each thread in a context of its own), which the
        # worker's lanes, threads sending one batch, each run in a copy of.
        self._held: ContextVar[list[MessageEvent] | None] = ContextVar(
            "held_message_events", default=None
        )
        # Per thread, as claim and settle happen on the same one: who the list kept out when a
        # worker claimed each message, for its settle to name only those it newly kept out
        # (popped by the settle; what a crashed attempt leaves is dropped when the hold ends).
        self._local = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the events produced within, and publish them together at the end (even if
        it ends in an error: the writes happened). Nested holds publish with the outer."""
        if self._held.get() is not None:
            yield
            return
        events: list[MessageEvent] = []
        holding = self._held.set(events)
        try:
            yield
        finally:
            self._held.reset(holding)
            self._claimed().clear()
            self._sink.publish(events)

    # The transitions.

    def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord:
        created = self._records.create(record, over_abandoned=over_abandoned)
        at = _at(created.created_at)
        events = [
            _message_event(
                MessageEventType.ACCEPTED, created, at, recipients=len(created.recipients)
            )
        ]
        if created.status in (Status.QUEUED, Status.SCHEDULED):
            events.append(_message_event(MessageEventType.QUEUED, created, at))
        events += _suppressed(created, created.suppressed, at)
        self._produce(events)
        return created

    def claim(
        self, record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None:
        claimed = self._records.claim(record_id, lease_seconds, at=at)
        if claimed is not None:
            self._claimed()[record_id] = frozenset(claimed.suppressed)
        return claimed

    def settle(
        self, record_id: str, status: Status, **changes: Unpack[RecordChanges]
    ) -> MessageRecord:
        before = self._claimed().pop(record_id, None)
        settled = self._records.settle(record_id, status, **changes)
        at = _at(settled.updated_at)
        data: dict[str, Any] = {}
        if status is Status.SENT:
            data["recipients"] = len(settled.accepted)
        events = [_message_event(_EVENT_OF_STATUS[status], settled, at, **data)]
        if "suppressed" in changes and before is not None:
            newly = [a for a in settled.suppressed if a not in before]
            events += _suppressed(settled, newly, at)
        self._produce(events)
        return settled

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        settled = self._records.expire_lease(record_id)
        if settled is not None:
            self._produce([_message_event(MessageEventType.UNKNOWN, settled)])
        return settled

    def abandon(self, record_id: str, reason: str) -> MessageRecord | None:
        settled = self._records.abandon(record_id, reason)
        if settled is not None:
            self._produce([_message_event(MessageEventType.FAILED, settled)])
        return settled

    def cancel(self, record_id: str) -> MessageRecord:
        cancelled = self._records.cancel(record_id)
        self._produce([_message_event(MessageEventType.CANCELLED, cancelled)])
        return cancelled

    # What changes nothing.

    def get(self, record_id: str) -> MessageRecord:
        return self._records.get(record_id)

    def release_outbox(self, record_id: str) -> None:
        self._records.release_outbox(record_id)

    def _claimed(self) -> dict[str, frozenset[str]]:
        if not hasattr(self._local, "claimed"):
            self._local.claimed = {}
        claimed: dict[str, frozenset[str]] = self._local.claimed
        return claimed

    def _produce(self, events: Sequence[MessageEvent]) -> None:
        held = self._held.get()
        if held is None:
            self._sink.publish(events)
        else:
            held.extend(events)


def _at(iso: str) -> datetime:
    return parse_iso(iso)


def _message_event(
    kind: MessageEventType, record: MessageRecord, at: datetime | None = None, **extra: Any
) -> MessageEvent:
    """An event about the whole message, with what its record says of it."""
    data: dict[str, Any] = {
        "status": record.status.value,
        "attempts": record.attempts,
        "reason": record.reason,
        "reply": record.reply,
        "provider_message_id": record.provider_message_id,
        "tags": list(record.tags) or None,
        "metadata": dict(record.metadata) or None,
        **extra,
    }
    return MessageEvent(
        type=kind,
        message_id=record.id,
        service=record.service,
        at=at or _at(record.updated_at),
        data={key: value for key, value in data.items() if value is not None},
    )


def _suppressed(
    record: MessageRecord, addresses: Sequence[str], at: datetime
) -> list[MessageEvent]:
    return [
        MessageEvent(
            type=MessageEventType.SUPPRESSED,
            message_id=record.id,
            service=record.service,
            recipient=address,
            at=at,
        )
        for address in addresses
    ]
