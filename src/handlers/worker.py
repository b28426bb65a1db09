"""SQS worker: delivers queued messages, a batch at a time, with partial batch responses.

A message that should come back later (a transient failure) is reported as a batch item
failure after its visibility is set to the wait; SQS redelivers it then, and its dead-letter
queue catches whatever keeps failing for reasons of its own. Every such return is a receive,
and a retry window of hours takes many: once a message has been received
FRESH_COPY_AFTER_RECEIVES times, its retry is a fresh copy of the job, delayed by the wait
(at most SQS's 15 minutes, as the backoff is), and this one is deleted, so a long outage never
walks it into the dead-letter queue (maxReceiveCount 20) nor past SQS's 14-day retention.

The batch goes through the courier as one run (`Courier.process_each`): a service's messages
are dealt out to up to its `max_connections` lanes, threads sending side by side, each on a
connection of its own, and each message's envelope written behind the previous one's final dot
where the server takes PIPELINING. The outcomes come back in the records' order.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from core import runtime
from core.delivery.attempt import RetryIn
from core.delivery.courier import Crashed
from core.delivery.job import FRESH_COPY_AFTER_RECEIVES, Job
from core.observability.logs import correlate
from core.settings import check_settings
from core.transport.base import Deadline
from handlers.observed import entry_point
from handlers.queue_batches import ComeBackLater, partial_batch_processor, receives

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()


class Batch:
    """One invocation's records: each one's job, read from its body, and their outcomes from
    one `Courier.process_each` over them, so that a service's messages share connections and
    round trips. The batch processor asks for the outcomes record by record, in order."""

    def __init__(self, records: list[dict[str, Any]], context: LambdaContext | None) -> None:
        self._context = context
        self._jobs: deque[Job | ValidationError] = deque(map(_job_of, records))
        readable = [job for job in self._jobs if isinstance(job, Job)]
        self._outcomes = runtime.courier().process_each(
            readable, self._deadline, answer_by=self._answer_by()
        )

    def deliver(self, record: SQSRecord) -> None:
        job = self._jobs.popleft()
        if not isinstance(job, Job):
            raise job  # unreadable: SQS redelivers it, and its dead-letter queue keeps it
        correlate(record_id=job.id)  # on every line of its attempt
        outcome = next(self._outcomes)
        if isinstance(outcome, Crashed):
            raise outcome.error  # this record alone comes back
        if isinstance(outcome, RetryIn):
            if receives(record) >= FRESH_COPY_AFTER_RECEIVES:
                runtime.message_queue().enqueue(job, delay_seconds=outcome.seconds)
                return  # this copy is deleted; the fresh one starts at no receives
            runtime.message_queue().retry_later(record.receipt_handle, outcome.seconds)
            raise ComeBackLater(f"message {job.id}: again in {outcome.seconds}s")
        # Done, or a Hop (its fresh copy already queued by the courier): this copy is deleted.

    def _deadline(self) -> Deadline:
        return runtime.send_deadline(self._remaining_millis())

    def _answer_by(self) -> Deadline | None:
        remaining = self._remaining_millis()
        return None if remaining is None else runtime.answer_deadline(remaining)

    def _remaining_millis(self) -> int | None:
        return self._context.get_remaining_time_in_millis() if self._context else None


def _job_of(record: dict[str, Any]) -> Job | ValidationError:
    try:
        return Job.model_validate_json(SQSRecord(record).body)
    except ValidationError as unreadable:
        return unreadable


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # The batch's message events go to their consumers together, once, at its end.
    with runtime.message_records().held():
        batch = Batch(event.get("Records") or [], context)
        # A processor of its own: it keeps the invocation's records and handler, which an
        # invocation running beside it in the same process (a test's workers side by side,
        # an in-process caller) must not overwrite.
        return process_partial_response(
            event=event,
            record_handler=batch.deliver,
            processor=partial_batch_processor(),
            context=context,
        )
