"""Jobs lost between their record and the queue, queued again: no record stays `queued` with
no job.

`Mailer.accept` writes the record holding its job (the outbox), then sends the job to SQS; a
worker's claim removes it, in the update it makes anyway. A request that died in between (or
whose SendMessage never returned) leaves a record holding its job past its due time. The
repair, run on a schedule, reads the table's sparse index of such records by due time (never
the table), moves each one's due time on to now (conditionally: one repair
queues it, and not again until the grace has passed once more), then queues its job again.
Should the first job turn up as well, the worker's conditional claim lets one copy send it.

The grace period is well past the longest a request can take (API Gateway's 29 s), so a job on
its way is not queued twice; a backlog that keeps jobs from a worker for longer than the grace
costs a duplicate job a grace period, which the claim makes harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aws_lambda_powertools import Logger

from core.delivery.job import Job
from core.delivery.message_record import OUTBOX_SHARDS, MessageRecord
from core.ports import Clock, JobQueue

logger = Logger(child=True)


class OutboxStore(Protocol):
    def due_outboxes(self, shard: str, due_by: int, *, limit: int) -> list[MessageRecord]: ...

    def postpone_outbox(self, record: MessageRecord, due: int) -> bool: ...


@dataclass
class Repaired:
    """What one run did: the records whose jobs were queued again, and those it could not
    queue (each tried again a grace period later)."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class OutboxRepair:
    def __init__(
        self,
        records: OutboxStore,
        queue: JobQueue,
        clock: Clock,
        *,
        grace_seconds: int,
        # At most 16 x 25 jobs a run, each a SendMessage: well within the function's timeout;
        # more wait for the next run, a minute later.
        per_shard: int = 25,
    ) -> None:
        self._records = records
        self._queue = queue
        self._clock = clock
        self._grace_seconds = grace_seconds
        self._per_shard = per_shard

    def run(self) -> Repaired:
        """Queue again every job held past its due time by more than the grace period."""
        now = int(self._clock.now().timestamp())
        repaired = Repaired()
        for shard in OUTBOX_SHARDS:
            for record in self._records.due_outboxes(
                shard, now - self._grace_seconds, limit=self._per_shard
            ):
                if record.outbox is None:
                    continue  # an index entry without its job: nothing to queue
                # Due again now: queued once more only if a grace period passes unclaimed.
                if not self._records.postpone_outbox(record, now):
                    continue  # claimed meanwhile, or another repair has it
                try:
                    # Its delay, if any, was served: a job due long ago goes at once.
                    self._queue.enqueue(Job.model_validate_json(record.outbox))
                except Exception:
                    # One that cannot be queued (SQS refusing, a job unreadable) holds up
                    # no other; it is due again after the grace.
                    logger.exception("lost job not queued", extra={"record_id": record.id})
                    repaired.failed.append(record.id)
                    continue
                logger.warning("lost job queued again", extra={"record_id": record.id})
                repaired.requeued.append(record.id)
        return repaired
