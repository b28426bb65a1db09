"""Message records in DynamoDB: the `RecordStore` of `core.ports`. What a record holds and how
its status may move is `core.delivery.message_record`'s; here each move is one conditional
update, so duplicate SQS deliveries and racing workers agree on one outcome."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Unpack

from boto3.dynamodb.conditions import Attr, ConditionBase

from core.clock import now_iso
from core.delivery.listing_index import Criteria, IndexName, IndexPage, Partition
from core.delivery.message_list import position_id
from core.delivery.message_record import (
    ENQUEUE_FAILED,
    LEGACY_REPLY_FIELD,
    OUTBOX_FIELDS,
    RETENTION_SECONDS,
    WAITING,
    MessageRecord,
    RecordChanges,
    Status,
    bounded,
    check_changes,
)
from core.delivery.recipient_status import EventEntry, RecipientStatus
from core.errors import Conflict, NotFound
from core.storage import ItemTable

# The table's sparse index of records holding their job (keys `outbox_shard`, `outbox_due`):
# the outbox repair reads it, never the table.
OUTBOX_INDEX = "outbox"
# The listing indexes (template.yaml): their partition key; both sort by `list_key`.
# The table's sparse index of records by the id their provider gave them (template.yaml):
# a provider's event names only that id.
PROVIDER_ID_INDEX = "by_provider_id"
LISTING_PARTITION_KEYS = {IndexName.BY_SERVICE: "service", IndexName.BY_MONTH: "list_month"}


class MessageRepository:
    """Message records by id. Table key: `id`; DynamoDB's TTL removes them on `expires_at`."""

    def __init__(self, table: ItemTable) -> None:
        self._table = table

    def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord:
        """Write a new record; `Conflict` if its id is taken, unless `over_abandoned` and the
        one there is a message the queue refused (`enqueue_failed`): it is sent anew."""
        created = datetime.now(UTC)
        now = created.isoformat(timespec="seconds")
        record = record.model_copy(
            update={
                "created_at": now,
                "updated_at": now,
                "expires_at": int(time.time()) + RETENTION_SECONDS,
            }
        ).listed(created)
        abandoned = Attr("status").eq(Status.FAILED.value) & Attr("reason").eq(ENQUEUE_FAILED)
        item = record.model_dump(mode="json", exclude_none=True)
        if not self._table.create(item, or_if=abandoned if over_abandoned else None):
            raise Conflict("Message id clash.", reason="message_exists")
        return record

    def get(self, record_id: str) -> MessageRecord:
        item = self._table.get(record_id)
        if item is None:
            raise NotFound(f"Message '{record_id}' not found.", reason="message_not_found")
        return MessageRecord.model_validate(item)

    def claim(
        self, record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None:
        """Move a waiting message to `sending` for one worker, tried `at` (the worker's clock;
        now by default); None if someone else has it or it is already settled. A lapsed lease
        (a crashed worker) is not taken over here: see `expire_lease`."""
        tried = (at or datetime.now(UTC)).isoformat(timespec="seconds")
        return self._transition(
            record_id,
            allowed=WAITING,
            changes={
                "status": Status.SENDING,
                "lease_until": int(time.time()) + lease_seconds,
                "last_tried_at": tried,
                # Kept 30 days from its last attempt, not only from its acceptance: a message
                # scheduled weeks ahead must not expire in the middle of its retry window.
                "expires_at": int(time.time()) + RETENTION_SECONDS,
            },
            set_once={"first_tried_at": tried},
            increment_attempts=True,
            # The job reached a worker: no copy of the message stays in the record.
            remove=OUTBOX_FIELDS,
        )

    def release_outbox(self, record_id: str) -> None:
        """The job reached a worker, which queues it on itself (a `Hop`): the record need
        not hold it, nor the repair queue it again."""
        self._table.update(record_id, remove=OUTBOX_FIELDS, only_if=Attr("outbox_shard").exists())

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        """A `sending` record whose lease ran out: the worker died mid-send, so nobody knows
        whether the server took the message. Settle it as `unknown` rather than resend."""
        item = self._table.update(
            record_id,
            set={"status": Status.UNKNOWN, "reason": "worker_interrupted", "updated_at": now_iso()},
            only_if=Attr("status").eq(Status.SENDING.value)
            & Attr("lease_until").lt(int(time.time())),
        )
        return None if item is None else MessageRecord.model_validate(item)

    def settle(
        self, record_id: str, status: Status, **changes: Unpack[RecordChanges]
    ) -> MessageRecord:
        """Record the outcome of an attempt by the worker (or request) holding the message;
        a change that is not in `RecordChanges` is a `TypeError`."""
        check_changes(changes)
        record = self._transition(
            record_id,
            allowed={Status.SENDING},
            changes={"status": status, **bounded(changes)},
            # An earlier version's reply must not outlive this attempt's (nor shadow its none).
            remove=(LEGACY_REPLY_FIELD,),
        )
        if record is None:
            raise Conflict(f"Message '{record_id}' is not being sent.", reason="message_state")
        return record

    def abandon(self, record_id: str, reason: str) -> MessageRecord | None:
        """Settle a message no job carries (the queue refused it) as `failed`; None when a
        worker already took it: its job was queued after all."""
        return self._transition(
            record_id,
            allowed={Status.SCHEDULED, Status.QUEUED},
            changes={"status": Status.FAILED, "reason": reason},
            remove=OUTBOX_FIELDS,
        )

    def due_outboxes(self, shard: str, due_by: int, *, limit: int) -> list[MessageRecord]:
        """Records of `shard` still holding their job that should have reached a worker by
        `due_by` (epoch seconds), the longest overdue first."""
        items = self._table.query_below(
            OUTBOX_INDEX, ("outbox_shard", shard), ("outbox_due", due_by), limit=limit
        )
        return [MessageRecord.model_validate(item) for item in items]

    def postpone_outbox(self, record: MessageRecord, due: int) -> bool:
        """Move a held job's due time on to `due`, unless someone did first (another repair)
        or a worker claimed it: True when this caller is the one to queue it again."""
        condition = Attr("outbox_due").eq(record.outbox_due)
        return self._table.update(record.id, set={"outbox_due": due}, only_if=condition) is not None

    def newest(
        self, partition: Partition, criteria: Criteria, *, after: str | None, limit: int
    ) -> IndexPage:
        """One Query of a listing index, newest first (see `core.delivery.message_list`)."""
        partition_key = LISTING_PARTITION_KEYS[partition.index]
        start = None
        if after is not None:
            start = {"id": position_id(after), partition_key: partition.value, "list_key": after}
        items, last = self._table.query_newest(
            partition.index.value,
            (partition_key, partition.value),
            ("list_key", criteria.lowest, criteria.highest),
            only=_matching(criteria),
            after=start,
            limit=limit,
        )
        records = [MessageRecord.model_validate(item) for item in items]
        return IndexPage(records, None if last is None else str(last["list_key"]))

    def find_by_provider_id(self, provider_message_id: str) -> MessageRecord | None:
        """The record of the message its provider knows as `provider_message_id`, if any."""
        keys = self._table.query_equal(
            PROVIDER_ID_INDEX, ("provider_message_id", provider_message_id), limit=1
        )
        return self.get(str(keys[0]["id"])) if keys else None

    def record_events(
        self,
        record: MessageRecord,
        recipients_status: dict[str, RecipientStatus],
        events: list[EventEntry],
    ) -> MessageRecord | None:
        """Write what provider events made of `record` (as read), unless another event was
        applied since (its `events_version` moved on): None then, and the caller reads again."""
        item = self._table.update(
            record.id,
            set={
                "recipients_status": {
                    address: status.model_dump(mode="json", exclude_none=True)
                    for address, status in recipients_status.items()
                },
                "events": [event.model_dump(mode="json") for event in events],
                "events_version": record.events_version + 1,
            },
            only_if=Attr("id").exists()
            & (
                Attr("events_version").eq(record.events_version)
                if record.events_version
                else Attr("events_version").not_exists() | Attr("events_version").eq(0)
            ),
        )
        return None if item is None else MessageRecord.model_validate(item)

    def cancel(self, record_id: str) -> MessageRecord:
        record = self._transition(
            record_id,
            allowed={Status.SCHEDULED, Status.QUEUED},
            changes={"status": Status.CANCELLED},
            remove=OUTBOX_FIELDS,
        )
        if record is None:
            current = self.get(record_id)
            raise Conflict(
                f"Message '{record_id}' is {current.status.value}; only a scheduled or queued"
                " message can be cancelled.",
                reason="not_cancellable",
                context={"status": current.status.value},
            )
        return record

    def _transition(
        self,
        record_id: str,
        *,
        allowed: frozenset[Status] | set[Status],
        changes: dict[str, Any],
        increment_attempts: bool = False,
        set_once: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> MessageRecord | None:
        item = self._table.update(
            record_id,
            set={**changes, "updated_at": now_iso()},
            set_once=set_once,
            add={"attempts": 1} if increment_attempts else None,
            remove=remove,
            only_if=Attr("status").is_in([status.value for status in allowed]),
        )
        return None if item is None else MessageRecord.model_validate(item)


def _matching(criteria: Criteria) -> ConditionBase | None:
    """The filters no index key covers, as one condition (None: none set)."""
    conditions: list[ConditionBase] = []
    if criteria.role is not None:
        conditions.append(Attr("role").eq(criteria.role))
    if criteria.status is not None:
        conditions.append(Attr("status").eq(criteria.status.value))
    if criteria.recipient is not None:
        conditions.append(Attr("recipients").contains(criteria.recipient))
    if criteria.tag is not None:
        conditions.append(Attr("tags").contains(criteria.tag))
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = combined & condition
    return combined
