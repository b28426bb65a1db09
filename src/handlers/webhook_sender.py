"""SQS sender of webhook calls: one call per message, partial batch responses.

A call that failed comes back after its wait: its visibility is set to it and it is reported
as a batch item failure. The attempt number is SQS's receive count, so the dead-letter queue
(maxReceiveCount above the retry schedule's attempts) keeps only what crashed the sender.

The calls of a batch are made side by side, each within WEBHOOK_TIMEOUT_SECONDS, so a batch
takes one call's time at most, however many of its endpoints are down or stall. An
invocation left too little time for that makes no call and gives the batch back at once (a
receive spent), so that it never times the function out and has calls already made sent
again.
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
from core.settings import check_settings, get_settings
from core.webhooks.model import Attempt, DeliveryJob
from handlers.observed import entry_point
from handlers.queue_batches import ComeBackLater, partial_batch_processor, receives

check_settings()
processor = partial_batch_processor()


# Time kept for logging the attempt and answering, beyond the call's own limit.
MARGIN_SECONDS = 2.0


class Batch:
    """One invocation's records: their calls made together (`WebhookDeliverer.deliver_all`)
    before the batch processor asks for each record's outcome, in order."""

    def __init__(self, records: list[dict[str, Any]], context: LambdaContext | None) -> None:
        self._in_time = context is None or _time_for_a_call(context)
        self._outcomes: deque[Attempt | ValidationError | None] = deque()
        if self._in_time:
            jobs = [_job_of(SQSRecord(record)) for record in records]
            readable = [job for job in jobs if not isinstance(job, ValidationError)]
            made = iter(runtime.webhook_deliverer().deliver_all(readable))
            self._outcomes.extend(
                job if isinstance(job, ValidationError) else next(made) for job in jobs
            )

    def answer(self, record: SQSRecord) -> None:
        if not self._in_time:
            runtime.webhook_queue().retry_later(record.receipt_handle, 0)
            raise ComeBackLater("no time left in this invocation for the calls")
        logged = self._outcomes.popleft()
        if isinstance(logged, ValidationError):
            raise logged  # unreadable: SQS redelivers it, and its dead-letter queue keeps it
        if logged is not None and logged.next_attempt_in is not None:
            runtime.webhook_queue().retry_later(record.receipt_handle, logged.next_attempt_in)
            raise ComeBackLater(f"webhook {logged.webhook_id}: again in {logged.next_attempt_in}s")


def _job_of(record: SQSRecord) -> tuple[DeliveryJob, int] | ValidationError:
    try:
        return DeliveryJob.model_validate_json(record.body), receives(record)  # the attempt number
    except ValidationError as unreadable:
        return unreadable


def _time_for_a_call(context: LambdaContext) -> bool:
    left = context.get_remaining_time_in_millis() / 1000
    return left > get_settings().webhook_timeout_seconds + MARGIN_SECONDS


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = Batch(event.get("Records") or [], context)
    return process_partial_response(
        event=event, record_handler=batch.answer, processor=processor, context=context
    )
