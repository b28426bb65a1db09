"""The send queue: SQS carries a job per message (`core.delivery.job`), the composed message
in it; a message too big for SQS waits in S3."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger

from core.aws_session import CREATING_CLIENTS
from core.concurrency import in_parallel
from core.delivery.job import INLINE_LIMIT_BYTES, MAX_DELAY_SECONDS, Job, body_of
from core.message import Message

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)

# The most entries SQS takes in one SendMessageBatch.
SQS_BATCH_SIZE = 10


class MessageQueue:
    def __init__(
        self,
        queue_url: str,
        staging_bucket: str,
        *,
        sqs: SQSClient | None = None,
        s3: S3Client | None = None,
    ) -> None:
        self._queue_url = queue_url
        self._bucket = staging_bucket
        self._sqs = sqs
        self._s3 = s3

    @property
    def sqs(self) -> SQSClient:
        if self._sqs is None:
            with CREATING_CLIENTS:
                self._sqs = boto3.client("sqs")
        return self._sqs

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            with CREATING_CLIENTS:
                self._s3 = boto3.client("s3")
        return self._s3

    def stage(self, job: Job, *, inline_limit: int = INLINE_LIMIT_BYTES) -> Job:
        """`job` as SQS will carry it: its message moved to S3 when it is bigger than
        `inline_limit` (by default, than SQS takes)."""
        if job.message is not None:
            message = job.message.model_dump_json().encode()
            if len(message) > inline_limit:
                key = f"staged/{job.id}.json"
                self.s3.put_object(Bucket=self._bucket, Key=key, Body=message)
                return job.model_copy(update={"message": None, "staged_message": key})
        return job

    def enqueue(self, job: Job, *, delay_seconds: int = 0) -> None:
        """Queue `job`, staged first (see `stage`) unless it already is."""
        self.sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body_of(self.stage(job)),
            DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
        )

    def enqueue_many(self, jobs: Sequence[tuple[Job, int]]) -> set[str]:
        """Queue each (job, delay), ten to a SendMessageBatch call (SQS's most), the calls
        side by side (`in_parallel`: 50 calls for 500 jobs wait about five round trips, not
        fifty); the ids of the jobs SQS refused, or may not have taken (a call that failed:
        all of its ten)."""
        chunks = [
            jobs[start : start + SQS_BATCH_SIZE] for start in range(0, len(jobs), SQS_BATCH_SIZE)
        ]
        calls = [partial(self._enqueue_chunk, chunk) for chunk in chunks]
        return set().union(*in_parallel(calls))

    def _enqueue_chunk(self, chunk: Sequence[tuple[Job, int]]) -> set[str]:
        """One SendMessageBatch call; the ids of the jobs it did not (surely) queue."""
        try:
            answer = self.sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        # An entry's id names it within the call only: its place will do.
                        "Id": str(place),
                        "MessageBody": body_of(self.stage(job)),
                        "DelaySeconds": max(0, min(delay, MAX_DELAY_SECONDS)),
                    }
                    for place, (job, delay) in enumerate(chunk)
                ],
            )
        except Exception:
            logger.exception("SendMessageBatch failed", extra={"jobs": len(chunk)})
            return {job.id for job, _delay in chunk}
        refused: set[str] = set()
        for failure in answer.get("Failed", []):
            job = chunk[int(failure["Id"])][0]
            logger.warning(
                "SQS refused a job",
                extra={"record_id": job.id, "code": failure.get("Code")},
            )
            refused.add(job.id)
        return refused

    def message_of(self, job: Job) -> Message:
        """The job's message, fetched from S3 if it was staged there."""
        if job.message is not None:
            return job.message
        if job.staged_message is None:
            raise ValueError(f"Job {job.id} carries no message.")
        answer = self.s3.get_object(Bucket=self._bucket, Key=job.staged_message)
        return Message.model_validate_json(answer["Body"].read())

    def legacy_request_of(self, job: Job) -> dict[str, Any] | None:
        """The send body of a job queued by an earlier version (None for today's jobs)."""
        if job.request is not None:
            return job.request
        if job.staged_request is None:
            return None
        answer = self.s3.get_object(Bucket=self._bucket, Key=job.staged_request)
        request: dict[str, Any] = json.loads(answer["Body"].read())
        return request

    def discard_staged(self, job: Job) -> None:
        """Once a message is settled, its staged copy (attachments and all) goes."""
        for key in (job.staged_message, job.staged_request):
            if key is not None:
                self.s3.delete_object(Bucket=self._bucket, Key=key)

    def retry_later(self, receipt_handle: str, delay_seconds: int) -> None:
        """Make a received message visible again after `delay_seconds` (max 12 hours)."""
        self.sqs.change_message_visibility(
            QueueUrl=self._queue_url,
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(delay_seconds, 12 * 3600)),
        )
