"""Message status records: what became of every accepted message, without its content.

A record's status only moves forward through conditional updates, so duplicate SQS
deliveries and racing workers agree on one outcome:

    scheduled ─┐
    queued ────┼─> sending ─> sent | failed | unknown
    deferred ──┘      ├─────> deferred (a retry is coming)
                      └─────> cancelled (its key was revoked, or its role now forbids it)
    scheduled / queued ─> cancelled (by the caller)
    scheduled / queued ─> failed (enqueue_failed: its job never reached the queue)

This module holds the record and its rules; `core.delivery.record_store` keeps records in
DynamoDB (the `RecordStore` port of `core.ports`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.delivery.recipient_status import EventEntry, RecipientState, RecipientStatus

# Kept 30 days from acceptance and from each attempt, then DynamoDB's TTL removes them.
RETENTION_SECONDS = 30 * 86_400


class Status(StrEnum):
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    DEFERRED = "deferred"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"


# The reason of a record whose job the queue refused (see `abandon`): nothing was sent.
ENQUEUE_FAILED = "enqueue_failed"

FINAL = frozenset({Status.SENT, Status.FAILED, Status.UNKNOWN, Status.CANCELLED})
WAITING = frozenset({Status.SCHEDULED, Status.QUEUED, Status.DEFERRED})

# The outbox: a record written for the queue holds its job (the SQS body) until a worker
# claims it, so that a job lost between the record and SQS can be queued again (see
# `core.delivery.repair`). Only such records carry `outbox_shard` and `outbox_due`, the keys
# of the table's sparse index (see `core.delivery.record_store`): the repair reads that
# index, never the table.
OUTBOX_FIELDS = ("outbox", "outbox_shard", "outbox_due")
# The index's partitions, by a record id's first hex digit: one partition would take every
# accepted message's write, and DynamoDB throttles a hot partition (and the table with it).
OUTBOX_SHARDS = tuple("0123456789abcdef")
# The keys of the table's listing indexes (see `core.delivery.message_list`): every record
# written since lists were added has them, set once when it is created.
LISTING_FIELDS = ("list_month", "list_key")
# The time in a listing sort key: fixed width, UTC, so that keys sort as times do.
LIST_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Never shown, nor in the API's answers.
# `events_version` counts the provider events applied (see `core.delivery.record_store`).
PRIVATE_FIELDS = frozenset(
    {"lease_until", "expires_at", "events_version", *OUTBOX_FIELDS, *LISTING_FIELDS}
)

# A server's reply is kept for the reader, not the archive: long multi-line replies, one per
# refused recipient, must not push a record past DynamoDB's 400 KB item limit. A provider's
# message id is the server's word too, cut the same way.
MAX_REPLY_CHARS = 300


# Where records written by earlier versions keep `reply`; settling one removes it.
LEGACY_REPLY_FIELD = "smtp_reply"


def new_record_id() -> str:
    """The id a message is known by in this API (its status record, `/messages/{id}`)."""
    return uuid.uuid4().hex


def list_key(created: datetime, record_id: str) -> str:
    """The listing indexes' sort key of a record: when it was created, to the microsecond
    (`created_at` shows whole seconds, too coarse to order a burst of sends), then its id."""
    return f"{created.astimezone(UTC).strftime(LIST_TIME_FORMAT)}#{record_id}"


class MessageRecord(BaseModel):
    """One message's life: never its body, subject or attachments."""

    # Every attribute the repository writes is a field: one that is not is a bug, not data.
    model_config = ConfigDict(extra="forbid")

    id: str
    service: str
    key_id: str
    # The sending key's role: only its keys (and admins) may see or cancel the message. None
    # on records written before roles were stored, which only admins may see.
    role: str | None = None
    message_id: str  # the Message-ID header
    status: Status
    attempts: int = 0
    recipients: list[str] = Field(default_factory=list)
    tags: list[str] = Field(
        default_factory=list,
        description="The sender's labels for the message (the send request's `tags`).",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="The sender's own strings by key (the send request's `metadata`).",
    )
    accepted: list[str] = Field(default_factory=list)
    refused: dict[str, str] = Field(default_factory=dict)
    deferred: dict[str, str] = Field(default_factory=dict)
    suppressed: list[str] = Field(
        default_factory=list,
        description="Recipients on the suppression list when the message was accepted or"
        " sent: left out of the envelope (the headers show them as the sender wrote them).",
    )
    reply: str | None = Field(
        default=None,
        description="The provider's last answer about the message: the SMTP server's reply"
        " to it (or to a recipient, when one was deferred), or the error that ended the attempt.",
    )
    provider_message_id: str | None = Field(
        default=None,
        description="The id the provider gave the message when it took it, if it said one:"
        " an SMTP server's `250 ... queued as <id>`, SES's `250 Ok <id>`.",
    )
    recipients_status: dict[str, RecipientStatus] = Field(
        default_factory=dict,
        description="Each recipient's state by the provider's events (SES): `sent`, `delayed`,"
        " `delivered`, `bounced`, `complained`; `suppressed` when the list kept it out.",
    )
    events: list[EventEntry] = Field(
        default_factory=list,
        description="The provider's last events about the message (at most 20), oldest first.",
    )
    events_version: int = 0
    reason: str | None = None
    # An earlier attempt ended with its outcome unknown (resent under `unknown_outcome:
    # retry`): the message may be out already, so no later failure can make it `failed`.
    may_have_gone: bool = False
    send_at: str | None = None
    # When a worker first and last took it for an attempt: its retry window runs from the
    # first, and a message that ran out of it says when it gave up.
    first_tried_at: str | None = None
    last_tried_at: str | None = None
    created_at: str = ""
    updated_at: str = ""
    # A worker that claims the message holds it until then; past it, a crash is assumed.
    lease_until: int | None = None
    expires_at: int = 0
    # The job as SQS gets it, until a worker claims the message (see OUTBOX_FIELDS); a job's
    # message is at most the queue's OUTBOX_INLINE_BYTES (bigger ones wait in S3), so with
    # MAX_RECIPIENTS_LIMIT recipients the record stays far below DynamoDB's 400 KB item.
    outbox: str | None = None
    outbox_shard: str | None = None
    # When the job should have reached a worker (epoch seconds): the index's sort key.
    outbox_due: int | None = None
    # The listing indexes' keys: the month it was created (`YYYY-MM`, the partition of the
    # index across services) and its creation time and id (both indexes' sort key, see
    # `list_key`: newest first, and unique, so a page can end on any record).
    list_month: str | None = None
    list_key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _reply_as_earlier_versions_kept_it(cls, data: Any) -> Any:
        """Records written before the reply was renamed hold it as `smtp_reply` (records are
        kept 30 days): it reads into `reply`, unless a later attempt set that."""
        if isinstance(data, dict) and LEGACY_REPLY_FIELD in data:
            data = dict(data)
            earlier = data.pop(LEGACY_REPLY_FIELD)
            if data.get("reply") is None:
                data["reply"] = earlier
        return data

    def pending_recipients(self) -> list[str]:
        """Who still has to get it: not accepted yet, not refused for good, not suppressed."""
        done = {*self.accepted, *self.refused, *self.suppressed}
        return [r for r in self.recipients if r not in done]

    def public(self) -> dict[str, Any]:
        shown = self.model_dump(mode="json", exclude=set(PRIVATE_FIELDS))
        # The list kept them out of the envelope: no provider event will ever name them.
        for address in self.suppressed:
            shown["recipients_status"].setdefault(
                address, {"state": RecipientState.SUPPRESSED.value, "at": self.created_at}
            )
        return shown

    def listed(self, created: datetime) -> MessageRecord:
        """This record, created at `created`, with its listing keys."""
        month = created.astimezone(UTC).strftime("%Y-%m")
        return self.model_copy(update={"list_month": month, "list_key": list_key(created, self.id)})

    def with_outbox(self, job_body: str, due: int) -> MessageRecord:
        """This record holding its job until a worker claims it."""
        return self.model_copy(
            update={"outbox": job_body, "outbox_shard": self.id[:1], "outbox_due": due}
        )


class RecordChanges(TypedDict, total=False):
    """What settling an attempt may change in a record, besides its status."""

    reason: str | None
    reply: str | None
    provider_message_id: str | None
    accepted: list[str]
    refused: dict[str, str]
    deferred: dict[str, str]
    suppressed: list[str]
    may_have_gone: bool


def check_changes(changes: RecordChanges) -> None:
    """Refuse what the type checker cannot see (a `**dict` splat): a change to an attribute
    that is not a record field, or one that an attempt does not decide."""
    for name in changes:
        if name not in MessageRecord.model_fields:
            raise TypeError(f"MessageRecord has no field {name!r}.")
        if name not in RecordChanges.__optional_keys__:
            raise TypeError(f"Settling a message cannot change its {name!r}.")


def bounded(changes: RecordChanges) -> RecordChanges:
    """`changes` with every server reply in it (and the provider's id) cut to
    `MAX_REPLY_CHARS`."""
    bounded = changes.copy()
    if (reply := bounded.get("reply")) is not None:
        bounded["reply"] = reply[:MAX_REPLY_CHARS]
    if (provider_id := bounded.get("provider_message_id")) is not None:
        bounded["provider_message_id"] = provider_id[:MAX_REPLY_CHARS]
    for field in ("refused", "deferred"):
        if field in bounded:
            bounded[field] = {
                address: reply[:MAX_REPLY_CHARS] for address, reply in bounded[field].items()
            }
    return bounded
