"""An event about a message no record knows (yet): tried again, or taken for one not ours.

SES may publish a message's `Send` (even its `Delivery`) before the send that made it has
written SES's id to the message's record: the send settles the record after SES answered. So
an event whose message is young is tried again (the events queue redelivers it after its
visibility timeout); one about an older message, or one tried as often as the queue allows
before its dead-letter queue, is about mail this deployment did not send (or no longer keeps)
and is dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import parse_iso
from core.events.ses_event import SesEvent

# The events queue's maxReceiveCount (template.yaml's SesEventsQueue; a unit test keeps them
# equal): the last receive drops an unknown event rather than leave it to the dead-letter
# queue, which is kept for events that failed.
MAX_RECEIVES = 5
# Far longer than a send takes to settle its record after SES took the message.
YOUNG_FOR = timedelta(minutes=15)


def worth_retrying(event: SesEvent, receives: int, now: datetime) -> bool:
    """Whether an event no record knows may yet find its record: its mail is young, and this
    is not the queue's last receive of it (`receives` counts this one)."""
    if receives >= MAX_RECEIVES:
        return False
    try:
        sent = parse_iso(event.sent_at)
    except ValueError:
        return False  # no time to judge by: nothing says it is ours
    if sent.tzinfo is None:
        return False
    return now - sent <= YOUNG_FOR
