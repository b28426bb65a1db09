"""The webhook queue (SQS, with a dead-letter queue): one message per call to make, sent ten
to a SendMessageBatch; a failed call comes back after its wait (its visibility changed)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import boto3

from core.aws_session import CREATING_CLIENTS
from core.webhooks.model import DeliveryJob

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH_ENTRIES = 10  # SendMessageBatch's limit
# ChangeMessageVisibility's limit: 12 hours.
MAX_VISIBILITY_SECONDS = 43_200


class WebhookQueue:
    def __init__(self, queue_url: str, *, sqs: SQSClient | None = None) -> None:
        self._queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            with CREATING_CLIENTS:
                self._sqs = boto3.client("sqs")
        return self._sqs

    def enqueue(self, jobs: Sequence[DeliveryJob]) -> None:
        """Queue every job; raises if SQS refused any (the caller logs it)."""
        refused = 0
        for start in range(0, len(jobs), BATCH_ENTRIES):
            batch = jobs[start : start + BATCH_ENTRIES]
            answer = self.sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": job.model_dump_json()}
                    for index, job in enumerate(batch)
                ],
            )
            refused += len(answer.get("Failed", []))
        if refused:
            raise RuntimeError(f"SQS refused {refused} of {len(jobs)} webhook calls.")

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back in `seconds`."""
        self.sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )
