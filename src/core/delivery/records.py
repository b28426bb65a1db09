"""Message status records: what became of every accepted message, without its content.

A record's status only moves forward through conditional updates, so duplicate SQS
deliveries and racing workers agree on one outcome:

    scheduled ─┐
    queued ────┼─> sending ─> sent | failed | unknown
    deferred ──┘      ├─────> deferred (a retry is coming)
                      └─────> cancelled (its key was revoked, or its role now forbids it)
    scheduled / queued ─> cancelled (by the caller)
"""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Any

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


FINAL = frozenset({Status.SENT, Status.FAILED, Status.UNKNOWN, Status.CANCELLED})
WAITING = frozenset({Status.SCHEDULED, Status.QUEUED, Status.DEFERRED})


def new_record_id() -> str:
    """The id a message is known by in this API (its status record, `/messages/{id}`)."""
    return uuid.uuid4().hex


class MessageRecord(BaseModel):
    """One message's life: never its body, subject or attachments."""

    model_config = ConfigDict(extra="ignore")

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
    created_at: str = ""
    updated_at: str = ""
    # A worker that claims the message holds it until then; past it, a crash is assumed.
    lease_until: int | None = None
    expires_at: int = 0

    def pending_recipients(self) -> list[str]:
        """Who still has to get it: not accepted yet and not refused for good."""
        return [r for r in self.recipients if r not in self.accepted and r not in self.refused]

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"lease_until", "expires_at"})


class MessageRepository:
    """Message records by id. Table key: `id`; DynamoDB's TTL removes them on `expires_at`."""

    def __init__(self, table: ItemTable) -> None:
        self._table = table

    def create(self, record: MessageRecord) -> MessageRecord:
        now = now_iso()
        record = record.model_copy(
            update={
                "created_at": now,
                "updated_at": now,
                "expires_at": int(time.time()) + RETENTION_SECONDS,
            }
        )
        if not self._table.create(record.model_dump(mode="json", exclude_none=True)):
            raise Conflict("Message id clash.", reason="message_exists")
        return record

    def get(self, record_id: str) -> MessageRecord:
        item = self._table.get(record_id)
        if item is None:
            raise NotFound(f"Message '{record_id}' not found.", reason="message_not_found")
        return MessageRecord.model_validate(item)

    def claim(self, record_id: str, lease_seconds: int) -> MessageRecord | None:
        """Move a waiting message to `sending` for one worker; None if someone else has it
        or it is already settled. A lapsed lease (a crashed worker) is not taken over here:
        see `expire_lease`."""
        return self._transition(
            record_id,
            allowed=WAITING,
            changes={"status": Status.SENDING, "lease_until": int(time.time()) + lease_seconds},
            increment_attempts=True,
        )

    def expire_lease(self, record_id: str) -> MessageRecord | None:
        """A `sending` record whose lease ran out: the worker died mid-send, so nobody knows
        whether the server took the message. Settle it as `unknown` rather than resend."""
        client = self._table.table.meta.client
        try:
            answer = self._table.table.update_item(
                Key={"id": record_id},
                UpdateExpression="SET #s = :unknown, reason = :reason, updated_at = :now",
                ConditionExpression="#s = :sending AND lease_until < :now_epoch",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":unknown": Status.UNKNOWN.value,
                    ":sending": Status.SENDING.value,
                    ":reason": "worker_interrupted",
                    ":now": now_iso(),
                    ":now_epoch": int(time.time()),
                },
                ReturnValues="ALL_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        return MessageRecord.model_validate(answer["Attributes"])

    def settle(self, record_id: str, status: Status, **changes: Any) -> MessageRecord:
        """Record the outcome of an attempt by the worker (or request) holding the message."""
        record = self._transition(
            record_id, allowed={Status.SENDING}, changes={"status": status, **_bounded(changes)}
        )
        if record is None:
            raise Conflict(f"Message '{record_id}' is not being sent.", reason="message_state")
        return record

    def cancel(self, record_id: str) -> MessageRecord:
        record = self._transition(
            record_id,
            allowed={Status.SCHEDULED, Status.QUEUED},
            changes={"status": Status.CANCELLED},
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
    ) -> MessageRecord | None:
        fields = {**changes, "updated_at": now_iso()}
        names = {f"#f{index}": name for index, name in enumerate(fields)}
        values: dict[str, Any] = {
            f":v{index}": _stored(value) for index, value in enumerate(fields.values())
        }
        assignments = [f"#f{index} = :v{index}" for index in range(len(fields))]
        allowed_values = {f":a{index}": status.value for index, status in enumerate(allowed)}
        values.update(allowed_values)
        update = "SET " + ", ".join(assignments)
        if increment_attempts:
            update += " ADD attempts :one"
            values[":one"] = 1
        names["#status"] = "status"
        client = self._table.table.meta.client
        try:
            answer = self._table.table.update_item(
                Key={"id": record_id},
                UpdateExpression=update,
                ConditionExpression=f"#status IN ({', '.join(allowed_values)})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        return MessageRecord.model_validate(answer["Attributes"])


# A server's reply is kept for the reader, not the archive: long multi-line replies, one per
# refused recipient, must not push a record past DynamoDB's 400 KB item limit.
MAX_REPLY_CHARS = 300


def _bounded(changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with every SMTP reply in it cut to `MAX_REPLY_CHARS`."""

    def cut(reply: Any) -> Any:
        return reply[:MAX_REPLY_CHARS] if isinstance(reply, str) else reply

    bounded = (
        {**changes, "smtp_reply": cut(changes["smtp_reply"])}
        if "smtp_reply" in changes
        else dict(changes)
    )
    for field in ("refused", "deferred"):
        if isinstance(bounded.get(field), dict):
            bounded[field] = {address: cut(reply) for address, reply in bounded[field].items()}
    return bounded


def _stored(value: Any) -> Any:
    """DynamoDB's form of a value: enums as their string, nothing else changed."""
    return value.value if isinstance(value, StrEnum) else value
