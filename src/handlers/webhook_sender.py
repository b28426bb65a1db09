"""SQS sender of webhook calls: one call per message, partial batch responses.

A call that failed comes back after its wait: its visibility is set to it and it is reported
as a batch item failure. The attempt number is SQS's receive count, so the dead-letter queue
(maxReceiveCount above the retry schedule's attempts) keeps only what crashed the sender.
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
from core.settings import check_settings
from core.webhooks.model import DeliveryJob

check_settings()
logger = Logger()
# A batch whose every call is to come back later is a normal answer, not an error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class ComeBackLater(Exception):  # a signal to the batch processor, not an error
    """Leaves the SQS message in the queue; its visibility timeout says when it returns."""


def call(record: SQSRecord) -> None:
    job = DeliveryJob.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    logged = runtime.webhook_deliverer().deliver(job, attempt)
    if logged is not None and logged.next_attempt_in is not None:
        runtime.webhook_queue().retry_later(record.receipt_handle, logged.next_attempt_in)
        raise ComeBackLater(f"webhook {job.webhook_id}: again in {logged.next_attempt_in}s")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=call, processor=processor, context=context
    )
