"""In-memory stand-ins for the message records and the send queue (unit tests).

They follow the real ones' state rules (a record moves forward only, from the statuses
`message_record.py` allows; `settle` takes only `RecordChanges` and cuts replies as the real one
does), so a unit test sees the same outcomes the DynamoDB-backed one gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Unpack

from core.clock import SystemClock
from core.delivery.job import INLINE_LIMIT_BYTES, Job
from core.delivery.listing_index import Criteria, IndexName, IndexPage, Partition
from core.delivery.message_record import (
    ENQUEUE_FAILED,
    OUTBOX_FIELDS,
    RETENTION_SECONDS,
    WAITING,
    MessageRecord,
    RecordChanges,
    Status,
    bounded,
    check_changes,
)
from core.delivery.repair import OutboxStore
from core.errors import Conflict, NotFound
from core.message import Message
from core.ports import Clock, JobQueue, RecordIndex, RecordStore

# What a worker's claim (or a settling without one) removes from a record.
NO_OUTBOX: dict[str, Any] = dict.fromkeys(OUTBOX_FIELDS)


@dataclass
class FakeMessageRepository:
    """Records by id; leases run on `clock` (share it with the courier to lapse one)."""

    clock: Clock = field(default_factory=SystemClock)
    records: dict[str, MessageRecord] = field(default_factory=dict)
    reads: int = 0

    def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord:
        if record.id in self.records:
            there = self.records[record.id]
            abandoned = (there.status, there.reason) == (Status.FAILED, ENQUEUE_FAILED)
            if not (over_abandoned and abandoned):
                raise Conflict("Message id clash.", reason="message_exists")
        now = self._now_iso()
        record = record.model_copy(
            update={
                "created_at": now,
                "updated_at": now,
                "expires_at": self._epoch() + RETENTION_SECONDS,
            }
        ).listed(self.clock.now())
        self.records[record.id] = record
        return record

    def get(self, record_id: str) -> MessageRecord:
        try:
            return self.records[record_id]
        except KeyError:
            raise NotFound(
                f"Message '{record_id}' not found.", reason="message_not_found"
            ) from None

    def claim(
        self, record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None:
        current = self.get(record_id)
        if current.status not in WAITING:
            return None
        tried = (at or self.clock.now()).isoformat(timespec="seconds")
        return self._update(
            record_id,
            status=Status.SENDING,
            attempts=current.attempts + 1,
            lease_until=self._epoch() + lease_seconds,
            first_tried_at=current.first_tried_at or tried,
            last_tried_at=tried,
            expires_at=self._epoch() + RETENTION_SECONDS,
            **NO_OUTBOX,
        )

    def release_outbox(self, record_id: str) -> None:
        self._update(record_id, **NO_OUTBOX)

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        current = self.get(record_id)
        if current.status is not Status.SENDING or (current.lease_until or 0) >= self._epoch():
            return None
        return self._update(record_id, status=Status.UNKNOWN, reason="worker_interrupted")

    def settle(
        self, record_id: str, status: Status, **changes: Unpack[RecordChanges]
    ) -> MessageRecord:
        # The real one's rules: a `**dict` splat can smuggle in what the type checker missed.
        check_changes(changes)
        if self.get(record_id).status is not Status.SENDING:
            raise Conflict(f"Message '{record_id}' is not being sent.", reason="message_state")
        return self._update(record_id, status=status, **bounded(changes))

    def due_outboxes(self, shard: str, due_by: int, *, limit: int) -> list[MessageRecord]:
        held = [
            record
            for record in self.records.values()
            if record.outbox_shard == shard and (record.outbox_due or 0) <= due_by
        ]
        return sorted(held, key=lambda record: record.outbox_due or 0)[:limit]

    def postpone_outbox(self, record: MessageRecord, due: int) -> bool:
        current = self.get(record.id)
        if current.outbox_due is None or current.outbox_due != record.outbox_due:
            return False
        self._update(record.id, outbox_due=due)
        return True

    def abandon(self, record_id: str, reason: str) -> MessageRecord | None:
        if self.get(record_id).status not in (Status.SCHEDULED, Status.QUEUED):
            return None
        return self._update(record_id, status=Status.FAILED, reason=reason, **NO_OUTBOX)

    def newest(
        self, partition: Partition, criteria: Criteria, *, after: str | None, limit: int
    ) -> IndexPage:
        """As a DynamoDB Query of the index: `limit` records evaluated (within the sort key's
        bounds, after `after`), the matching ones answered; `reads` counts the calls."""
        self.reads += 1
        in_partition = sorted(
            (
                record
                for record in self.records.values()
                if record.list_key is not None
                and _partition_value(record, partition.index) == partition.value
                and criteria.lowest <= record.list_key <= criteria.highest
                and (after is None or record.list_key < after)
            ),
            key=lambda record: record.list_key or "",
            reverse=True,
        )
        evaluated = in_partition[:limit]
        # As DynamoDB does: a read that reached its limit names where it stopped, even when
        # nothing follows.
        last = evaluated[-1].list_key if len(evaluated) == limit else None
        return IndexPage([record for record in evaluated if _matches(record, criteria)], last)

    def cancel(self, record_id: str) -> MessageRecord:
        current = self.get(record_id)
        if current.status not in (Status.SCHEDULED, Status.QUEUED):
            raise Conflict(
                f"Message '{record_id}' is {current.status.value}; only a scheduled or queued"
                " message can be cancelled.",
                reason="not_cancellable",
                context={"status": current.status.value},
            )
        return self._update(record_id, status=Status.CANCELLED, **NO_OUTBOX)

    def _update(self, record_id: str, **changes: Any) -> MessageRecord:
        # Validated as the real repository validates what DynamoDB returns.
        record = MessageRecord.model_validate(
            {**self.records[record_id].model_dump(), **changes, "updated_at": self._now_iso()}
        )
        self.records[record_id] = record
        return record

    def _epoch(self) -> int:
        return int(self.clock.now().timestamp())

    def _now_iso(self) -> str:
        return self.clock.now().isoformat(timespec="seconds")


def _partition_value(record: MessageRecord, index: IndexName) -> str | None:
    return record.service if index is IndexName.BY_SERVICE else record.list_month


def _matches(record: MessageRecord, criteria: Criteria) -> bool:
    return (
        (criteria.role is None or record.role == criteria.role)
        and (criteria.status is None or record.status is criteria.status)
        and (criteria.recipient is None or criteria.recipient in record.recipients)
        and (criteria.tag is None or criteria.tag in record.tags)
    )


@dataclass(frozen=True)
class Enqueued:
    job: Job
    delay_seconds: int


@dataclass
class FakeMessageQueue:
    """Keeps what was enqueued. A job may name a message in `staged` (as one too big for
    SQS names its S3 copy), or, as an earlier version queued it, a request body in
    `staged_requests`; `discarded` lists the staged copies dropped, by key. With `refuse`
    set, it takes nothing (the SQS client's fault hook: the enqueue is not under test)."""

    queued: list[Enqueued] = field(default_factory=list)
    staged: dict[str, Message] = field(default_factory=dict)
    staged_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    discarded: list[str] = field(default_factory=list)
    # Raised by every `enqueue` while set, nothing queued: SQS throttling or down.
    refuse: Exception | None = None

    def stage(self, job: Job, *, inline_limit: int = INLINE_LIMIT_BYTES) -> Job:
        if job.message is None or len(job.message.model_dump_json().encode()) <= inline_limit:
            return job
        key = f"staged/{job.id}.json"
        self.staged[key] = job.message
        return job.model_copy(update={"message": None, "staged_message": key})

    def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
        if self.refuse is not None:
            raise self.refuse
        self.queued.append(Enqueued(job, delay_seconds))

    def enqueue_many(self, jobs: Sequence[tuple[Job, int]]) -> set[str]:
        # One `enqueue` each, so a subclass's faults apply to every job; a refused job is
        # reported, not raised, as SendMessageBatch reports its failed entries.
        refused: set[str] = set()
        for job, delay in jobs:
            try:
                self.enqueue(job, delay_seconds=delay)
            except Exception:
                refused.add(job.id)
        return refused

    @property
    def only_job(self) -> Enqueued:
        assert len(self.queued) == 1, f"expected one job, got {len(self.queued)}"
        return self.queued[0]

    def message_of(self, job: Job) -> Message:
        if job.message is not None:
            return job.message
        if job.staged_message is None:
            raise ValueError(f"Job {job.id} carries no message.")
        return self.staged[job.staged_message]

    def legacy_request_of(self, job: Job) -> dict[str, Any] | None:
        if job.request is not None:
            return job.request
        if job.staged_request is None:
            return None
        return self.staged_requests[job.staged_request]

    def discard_staged(self, job: Job) -> None:
        for key in (job.staged_message, job.staged_request):
            if key is not None:
                self.staged.pop(key, None)
                self.staged_requests.pop(key, None)
                self.discarded.append(key)


_records: RecordStore = FakeMessageRepository()
_outboxes: OutboxStore = FakeMessageRepository()
_queue: JobQueue = FakeMessageQueue()
_index: RecordIndex = FakeMessageRepository()
