"""SQS sender of webhook calls: one call per message, partial batch responses.

A call that failed comes back after its wait: its visibility is set to it and it is reported
as a batch item failure. The attempt number is SQS's receive count, so the dead-letter queue
(maxReceiveCount above the retry schedule's attempts) keeps only what crashed the sender.

The calls of a batch are made one after another, each within WEBHOOK_TIMEOUT_SECONDS: one
that could not end before the function's own timeout is not started but given back at once
(a receive spent), so that a batch of slow endpoints never times the function out and has
the calls already made sent again.
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
from core.settings import check_settings, get_settings
from core.webhooks.model import DeliveryJob

check_settings()
logger = Logger()
# A batch whose every call is to come back later is a normal answer, not an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class ComeBackLater(Exception):  # a signal to the batch processor, not an error
    """Leaves the SQS message in the queue; its visibility timeout says when it returns."""


# Time kept for logging the attempt and answering, beyond the call's own limit.
MARGIN_SECONDS = 2.0


def call(record: SQSRecord, context: LambdaContext | None = None) -> None:
    if context is not None and not _time_for_a_call(context):
        runtime.webhook_queue().retry_later(record.receipt_handle, 0)
        raise ComeBackLater("no time left in this invocation for another call")
    job = DeliveryJob.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    logged = runtime.webhook_deliverer().deliver(job, attempt)
    if logged is not None and logged.next_attempt_in is not None:
        runtime.webhook_queue().retry_later(record.receipt_handle, logged.next_attempt_in)
        raise ComeBackLater(f"webhook {job.webhook_id}: again in {logged.next_attempt_in}s")


def _time_for_a_call(context: LambdaContext) -> bool:
    left = context.get_remaining_time_in_millis() / 1000
    return left > get_settings().webhook_timeout_seconds + MARGIN_SECONDS


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda record: call(record, context),
        processor=processor,
        context=context,
    )
