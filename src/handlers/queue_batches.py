"""What the functions fed by an SQS queue share (the send worker, the SES events function,
the webhook sender): a batch processor reporting partial failures, the signal that leaves a
message for later, and how often a message has been received."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class ComeBackLater(Exception):  # a signal to the batch processor, not an error
    """Leaves the SQS message in the queue; its visibility timeout says when it returns."""


def partial_batch_processor() -> BatchProcessor:
    """A batch whose every message is to come back later is a normal answer, not an error:
    raising would count each deferral of a lone message as a failed invocation."""
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def receives(record: SQSRecord) -> int:
    """How often SQS has handed this message out, this time included."""
    return int(record.attributes.approximate_receive_count or 1)
