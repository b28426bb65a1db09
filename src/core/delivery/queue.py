"""The send queue: SQS carries a job per message, the composed message in it; a message too
big for SQS waits in S3."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import BaseModel, ConfigDict

from core.message import Message

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# SQS takes 256 KiB per message; leave room for the job's own fields and attributes.
INLINE_LIMIT_BYTES = 200 * 1024
# A queued job is written into its message record too (the outbox, see core.delivery.repair),
# and DynamoDB bills a write by the KB, twice here (the record's creation, and the claim that
# removes the job): a message bigger than this waits in S3 from the start, so that a record
# costs a few write units rather than two hundred, and an S3 PUT, GET and DELETE (far cheaper
# than 400 KB of writes) are paid only by messages with attachments of some size.
OUTBOX_INLINE_BYTES = 16 * 1024
# SQS delays a message by at most 15 minutes.
MAX_DELAY_SECONDS = 900
# A message returned this many times for retries is retried as a fresh copy (handlers.worker):
# half the send queue's maxReceiveCount (template.yaml), room for redeliveries of its own (a
# worker that crashed) before the dead-letter queue.
FRESH_COPY_AFTER_RECEIVES = 10


class Job(BaseModel):
    """One queued message: its record's id, who sent it through which service, and the
    message exactly as the API checked it."""

    model_config = ConfigDict(extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")

    id: str
    service: str
    key_id: str
    send_at: str | None = None
    # The stored template it was sent with: a role limited to templates is held to it again
    # at send time, as the role is then.
    template: str | None = None
    message: Message | None = None
    # Where the message waits when it did not fit in the SQS message.
    staged_message: str | None = None
    # Jobs queued by earlier versions carry the request body (inline or staged) and the
    # Message-ID instead: an upgrade must not strand them, so the worker still composes them.
    request: dict[str, Any] | None = None
    staged_request: str | None = None
    message_id: str | None = None


def body_of(job: Job) -> str:
    """The SQS message body that carries `job`."""
    return job.model_dump_json(exclude_none=True)


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
            self._sqs = boto3.client("sqs")
        return self._sqs

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
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
