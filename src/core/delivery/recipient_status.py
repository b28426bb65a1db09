"""Where each recipient of a sent message stands, by the provider's events, and how an event
moves it on.

A recipient's state only climbs this ladder, so duplicated and out-of-order events end in
the same state whatever order they come in:

    sent < delayed < delivered < bounced | complained

`suppressed` is never an event's: a record shows it for the recipients the suppression list
kept out of the envelope (`MessageRecord.public`).

An event of a lower rank than the recipient's state changes nothing; one of the same rank
changes it only when it is newer (a later delay's diagnostic). Bounced and complained
share the top rank: a complaint after a delivery's bounce (or the reverse) is the later one.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# How many events a record keeps (newest last): enough to read a message's story, never so
# many that a record nears DynamoDB's item limit. Their ids also make an event seen twice
# a no-op (an older duplicate is one the ladder ignores anyway).
MAX_EVENTS = 20


class RecipientState(StrEnum):
    SENT = "sent"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    SUPPRESSED = "suppressed"


RANK = {
    RecipientState.SENT: 0,
    RecipientState.DELAYED: 1,
    RecipientState.DELIVERED: 2,
    RecipientState.BOUNCED: 3,
    RecipientState.COMPLAINED: 3,
    RecipientState.SUPPRESSED: 3,
}


class RecipientStatus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: RecipientState
    at: str = Field(description="When the provider says it happened (ISO 8601).")
    bounce_type: str | None = Field(default=None, description="`Permanent` or `Transient`.")
    bounce_subtype: str | None = None
    diagnostic: str | None = Field(default=None, description="The receiving server's word.")


class EventEntry(BaseModel):
    """One provider event as a record keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="The provider's message id, event type, recipient and time.")
    type: str
    recipient: str
    at: str


def moved_on(current: RecipientStatus | None, update: RecipientStatus) -> RecipientStatus:
    """The recipient's status after `update`: the higher rank, and among equals the later."""
    if current is None:
        return update
    if RANK[update.state] != RANK[current.state]:
        return update if RANK[update.state] > RANK[current.state] else current
    return update if update.at > current.at else current
