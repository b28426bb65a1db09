"""Message status records: what became of every accepted message, without its content.

A record's status only moves forward through conditional updates, so duplicate SQS
deliveries and racing workers agree on one outcome:

    scheduled ─┐
    queued ────┼─> sending ─> sent | failed | unknown
    deferred ──┘      ├─────> deferred (a retry is coming)
                      └─────> cancelled (its key was revoked, or its role now forbids it)
    scheduled / queued ─> cancelled (by the caller)
    scheduled / queued ─> failed (enqueue_failed: its job never reached the queue)
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypedDict, Unpack

from boto3.dynamodb.conditions import Attr
from pydantic import BaseModel, ConfigDict, Field

from core.clock import now_iso
from core.errors import Conflict, NotFound
from core.storage import ItemTable

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
# of the table's sparse index OUTBOX_INDEX: the repair reads that index, never the table.
OUTBOX_INDEX = "outbox"
OUTBOX_FIELDS = ("outbox", "outbox_shard", "outbox_due")
# The index's partitions, by a record id's first hex digit: one partition would take every
# accepted message's write, and DynamoDB throttles a hot partition (and the table with it).
OUTBOX_SHARDS = tuple("0123456789abcdef")
# Never shown, nor in the API's answers.
PRIVATE_FIELDS = frozenset({"lease_until", "expires_at", *OUTBOX_FIELDS})


def new_record_id() -> str:
    """The id a message is known by in this API (its status record, `/messages/{id}`)."""
    return uuid.uuid4().hex


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
    accepted: list[str] = Field(default_factory=list)
    refused: dict[str, str] = Field(default_factory=dict)
    deferred: dict[str, str] = Field(default_factory=dict)
    smtp_reply: str | None = None
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
    # The job as SQS gets it, until a worker claims the message (see OUTBOX_INDEX); a job's
    # message is at most the queue's OUTBOX_INLINE_BYTES (bigger ones wait in S3), so with
    # MAX_RECIPIENTS_LIMIT recipients the record stays far below DynamoDB's 400 KB item.
    outbox: str | None = None
    outbox_shard: str | None = None
    # When the job should have reached a worker (epoch seconds): the index's sort key.
    outbox_due: int | None = None

    def pending_recipients(self) -> list[str]:
        """Who still has to get it: not accepted yet and not refused for good."""
        return [r for r in self.recipients if r not in self.accepted and r not in self.refused]

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=set(PRIVATE_FIELDS))

    def with_outbox(self, job_body: str, due: int) -> MessageRecord:
        """This record holding its job until a worker claims it."""
        return self.model_copy(
            update={"outbox": job_body, "outbox_shard": self.id[:1], "outbox_due": due}
        )


class RecordChanges(TypedDict, total=False):
    """What settling an attempt may change in a record, besides its status."""

    reason: str | None
    smtp_reply: str | None
    accepted: list[str]
    refused: dict[str, str]
    deferred: dict[str, str]
    may_have_gone: bool


class MessageRepository:
    """Message records by id. Table key: `id`; DynamoDB's TTL removes them on `expires_at`."""

    def __init__(self, table: ItemTable) -> None:
        self._table = table

    def create(self, record: MessageRecord, *, over_abandoned: bool = False) -> MessageRecord:
        """Write a new record; `Conflict` if its id is taken, unless `over_abandoned` and the
        one there is a message the queue refused (`enqueue_failed`): it is sent anew."""
        now = now_iso()
        record = record.model_copy(
            update={
                "created_at": now,
                "updated_at": now,
                "expires_at": int(time.time()) + RETENTION_SECONDS,
            }
        )
        abandoned = Attr("status").eq(Status.FAILED.value) & Attr("reason").eq(ENQUEUE_FAILED)
        item = record.model_dump(mode="json", exclude_none=True)
        if not self._table.create(item, or_if=abandoned if over_abandoned else None):
            raise Conflict("Message id clash.", reason="message_exists")
        return record

    def get(self, record_id: str) -> MessageRecord:
        item = self._table.get(record_id)
        if item is None:
            raise NotFound(f"Message '{record_id}' not found.", reason="message_not_found")
        return MessageRecord.model_validate(item)

    def claim(
        self, record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None:
        """Move a waiting message to `sending` for one worker, tried `at` (the worker's clock;
        now by default); None if someone else has it or it is already settled. A lapsed lease
        (a crashed worker) is not taken over here: see `expire_lease`."""
        tried = (at or datetime.now(UTC)).isoformat(timespec="seconds")
        return self._transition(
            record_id,
            allowed=WAITING,
            changes={
                "status": Status.SENDING,
                "lease_until": int(time.time()) + lease_seconds,
                "last_tried_at": tried,
                # Kept 30 days from its last attempt, not only from its acceptance: a message
                # scheduled weeks ahead must not expire in the middle of its retry window.
                "expires_at": int(time.time()) + RETENTION_SECONDS,
            },
            set_once={"first_tried_at": tried},
            increment_attempts=True,
            # The job reached a worker: no copy of the message stays in the record.
            remove=OUTBOX_FIELDS,
        )

    def release_outbox(self, record_id: str) -> None:
        """The job reached a worker, which queues it on itself (a `Hop`): the record need
        not hold it, nor the repair queue it again."""
        self._table.update(record_id, remove=OUTBOX_FIELDS, only_if=Attr("outbox_shard").exists())

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        """A `sending` record whose lease ran out: the worker died mid-send, so nobody knows
        whether the server took the message. Settle it as `unknown` rather than resend."""
        item = self._table.update(
            record_id,
            set={"status": Status.UNKNOWN, "reason": "worker_interrupted", "updated_at": now_iso()},
            only_if=Attr("status").eq(Status.SENDING.value)
            & Attr("lease_until").lt(int(time.time())),
        )
        return None if item is None else MessageRecord.model_validate(item)

    def settle(
        self, record_id: str, status: Status, **changes: Unpack[RecordChanges]
    ) -> MessageRecord:
        """Record the outcome of an attempt by the worker (or request) holding the message;
        a change that is not in `RecordChanges` is a `TypeError`."""
        check_changes(changes)
        record = self._transition(
            record_id, allowed={Status.SENDING}, changes={"status": status, **_bounded(changes)}
        )
        if record is None:
            raise Conflict(f"Message '{record_id}' is not being sent.", reason="message_state")
        return record

    def abandon(self, record_id: str, reason: str) -> MessageRecord | None:
        """Settle a message no job carries (the queue refused it) as `failed`; None when a
        worker already took it: its job was queued after all."""
        return self._transition(
            record_id,
            allowed={Status.SCHEDULED, Status.QUEUED},
            changes={"status": Status.FAILED, "reason": reason},
            remove=OUTBOX_FIELDS,
        )

    def due_outboxes(self, shard: str, due_by: int, *, limit: int) -> list[MessageRecord]:
        """Records of `shard` still holding their job that should have reached a worker by
        `due_by` (epoch seconds), the longest overdue first."""
        items = self._table.query_below(
            OUTBOX_INDEX, ("outbox_shard", shard), ("outbox_due", due_by), limit=limit
        )
        return [MessageRecord.model_validate(item) for item in items]

    def postpone_outbox(self, record: MessageRecord, due: int) -> bool:
        """Move a held job's due time on to `due`, unless someone did first (another repair)
        or a worker claimed it: True when this caller is the one to queue it again."""
        condition = Attr("outbox_due").eq(record.outbox_due)
        return self._table.update(record.id, set={"outbox_due": due}, only_if=condition) is not None

    def cancel(self, record_id: str) -> MessageRecord:
        record = self._transition(
            record_id,
            allowed={Status.SCHEDULED, Status.QUEUED},
            changes={"status": Status.CANCELLED},
            remove=OUTBOX_FIELDS,
        )
        if record is None:
            current = self.get(record_id)
            raise Conflict(
                f"Message '{record_id}' is {current.status.value}; only a scheduled or queued"
                " message can be cancelled.",
                reason="not_cancellable",
                context={"status": current.status.value},
            )
        return record

    def _transition(
        self,
        record_id: str,
        *,
        allowed: frozenset[Status] | set[Status],
        changes: dict[str, Any],
        increment_attempts: bool = False,
        set_once: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> MessageRecord | None:
        item = self._table.update(
            record_id,
            set={**changes, "updated_at": now_iso()},
            set_once=set_once,
            add={"attempts": 1} if increment_attempts else None,
            remove=remove,
            only_if=Attr("status").is_in([status.value for status in allowed]),
        )
        return None if item is None else MessageRecord.model_validate(item)


def check_changes(changes: RecordChanges) -> None:
    """Refuse what the type checker cannot see (a `**dict` splat): a change to an attribute
    that is not a record field, or one that an attempt does not decide."""
    for name in changes:
        if name not in MessageRecord.model_fields:
            raise TypeError(f"MessageRecord has no field {name!r}.")
        if name not in RecordChanges.__optional_keys__:
            raise TypeError(f"Settling a message cannot change its {name!r}.")


# A server's reply is kept for the reader, not the archive: long multi-line replies, one per
# refused recipient, must not push a record past DynamoDB's 400 KB item limit.
MAX_REPLY_CHARS = 300


def _bounded(changes: RecordChanges) -> RecordChanges:
    """`changes` with every SMTP reply in it cut to `MAX_REPLY_CHARS`."""
    bounded = changes.copy()
    if (reply := bounded.get("smtp_reply")) is not None:
        bounded["smtp_reply"] = reply[:MAX_REPLY_CHARS]
    for field in ("refused", "deferred"):
        if field in bounded:
            bounded[field] = {
                address: reply[:MAX_REPLY_CHARS] for address, reply in bounded[field].items()
            }
    return bounded
