"""In-memory stand-ins for the message records and the send queue (unit tests).

They follow the real ones' state rules (a record moves forward only, from the statuses
`records.py` allows), so a unit test sees the same outcomes the DynamoDB-backed one gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.delivery.queue import Job
from core.delivery.records import WAITING, MessageRecord, Status
from core.errors import Conflict, NotFound


@dataclass
class FakeMessageRepository:
    records: dict[str, MessageRecord] = field(default_factory=dict)

    def create(self, record: MessageRecord) -> MessageRecord:
        if record.id in self.records:
            raise Conflict("Message id clash.", reason="message_exists")
        self.records[record.id] = record
        return record

    def get(self, record_id: str) -> MessageRecord:
        try:
            return self.records[record_id]
        except KeyError:
            raise NotFound(
                f"Message '{record_id}' not found.", reason="message_not_found"
            ) from None

    def claim(self, record_id: str, lease_seconds: int) -> MessageRecord | None:
        current = self.get(record_id)
        if current.status not in WAITING:
            return None
        return self._update(record_id, status=Status.SENDING, attempts=current.attempts + 1)

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        return None  # a fake worker never dies mid-send

    def settle(self, record_id: str, status: Status, **changes: Any) -> MessageRecord:
        if self.get(record_id).status is not Status.SENDING:
            raise Conflict(f"Message '{record_id}' is not being sent.", reason="message_state")
        return self._update(record_id, status=status, **changes)

    def cancel(self, record_id: str) -> MessageRecord:
        current = self.get(record_id)
        if current.status not in (Status.SCHEDULED, Status.QUEUED):
            raise Conflict(
                f"Message '{record_id}' is {current.status.value}.",
                reason="not_cancellable",
                context={"status": current.status.value},
            )
        return self._update(record_id, status=Status.CANCELLED)

    def _update(self, record_id: str, **changes: Any) -> MessageRecord:
        record = self.records[record_id].model_copy(update=changes)
        self.records[record_id] = record
        return record


@dataclass(frozen=True)
class Queued:
    job: Job
    delay_seconds: int


@dataclass
class FakeMessageQueue:
    """Keeps what was enqueued; requests are never staged."""

    queued: list[Queued] = field(default_factory=list)

    def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
        self.queued.append(Queued(job, delay_seconds))

    def request_of(self, job: Job) -> dict[str, Any]:
        if job.request is None:
            raise ValueError(f"Job {job.id} carries no request.")
        return job.request

    def discard_staged(self, job: Job) -> None:
        pass

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        pass
