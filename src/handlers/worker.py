"""SQS worker: delivers queued messages, a batch at a time, with partial batch responses.

A message that should come back later (a transient failure, the provider's pace) is reported
as a batch item failure after its visibility is set to the wait; SQS redelivers it then, and
its dead-letter queue catches whatever keeps failing for reasons of its own.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.delivery.courier import Hop, RetryIn
from core.delivery.queue import Job
from core.settings import check_settings

# A missing table name or queue URL fails the cold start, naming it, not the first request.
check_settings()
logger = Logger()
# A batch whose every message is to come back later is a normal answer, not an error: raising
# would count each deferral of a lone message as a failed invocation.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class ComeBackLater(Exception):  # a signal to the batch processor, not an error
    """Leaves the SQS message in the queue; its visibility timeout says when it returns."""


def deliver(record: SQSRecord) -> None:
    job = Job.model_validate_json(record.body)
    context = processor.lambda_context
    deadline = runtime.send_deadline(context.get_remaining_time_in_millis() if context else None)
    outcome = runtime.courier().process(job, deadline)
    if isinstance(outcome, RetryIn):
        runtime.message_queue().retry_later(record.receipt_handle, outcome.seconds)
        raise ComeBackLater(f"message {job.id}: again in {outcome.seconds}s")
    if isinstance(outcome, Hop):
        runtime.message_queue().enqueue(job, delay_seconds=outcome.seconds)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=deliver, processor=processor, context=context
    )
