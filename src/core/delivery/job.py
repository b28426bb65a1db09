"""A queued message as the send queue carries it (`Job`), and the queue's limits that core
plans by. `core.delivery.queue` is the SQS/S3 adapter that carries it; this module holds no
AWS client, so the ports and the send path can name a job without loading one."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from core.message import Message

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
