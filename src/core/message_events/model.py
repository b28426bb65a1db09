"""A message event: one thing that happened to an accepted message, or to one of its
recipients, said once.

The send path and the provider's events produce them (a record's status moving on, a
recipient's state climbing its ladder, a recipient kept out by the suppression list); the
`MessageEventSink` port (`core.ports`) takes them, and its consumers (the daily counters,
the webhooks) read nothing else. An event is produced only by the write that made it
true, so a duplicate SQS delivery or a duplicate provider event produces none.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class MessageEventType(StrEnum):
    # A message's own story (its record's status).
    ACCEPTED = "accepted"  # a record was written: every accepted message, sent now or queued
    QUEUED = "queued"  # accepted for the queue (now or scheduled)
    SENT = "sent"  # the provider took it
    DEFERRED = "deferred"  # an attempt failed for now; a retry is coming
    FAILED = "failed"
    UNKNOWN = "unknown"  # the outcome after the handover is not known
    CANCELLED = "cancelled"
    # One recipient's story (the provider's events, the suppression list).
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    DELAYED = "delayed"
    SUPPRESSED = "suppressed"  # kept out of the envelope by the suppression list


# The types about one recipient: their events name it in `recipient`.
RECIPIENT_TYPES = frozenset(
    {
        MessageEventType.DELIVERED,
        MessageEventType.BOUNCED,
        MessageEventType.COMPLAINED,
        MessageEventType.DELAYED,
        MessageEventType.SUPPRESSED,
    }
)


class MessageEvent(BaseModel):
    """One event. `data` holds what its type knows: a reason and the server's reply, a
    bounce's type and diagnostic, the number of recipients sent to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: MessageEventType
    message_id: str
    service: str
    recipient: str | None = None
    at: AwareDatetime
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def id(self) -> str:
        """The same for the same event however often it is produced (a receiver's dedup key)."""
        parts = (self.type.value, self.message_id, self.recipient or "", self.at.isoformat())
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]

    @property
    def day(self) -> str:
        """The UTC day it happened on (`YYYY-MM-DD`): the counters' bucket."""
        return self.at.astimezone(UTC).date().isoformat()
