"""The daily counters: a `MessageEventSink` that adds each batch of events to the counters of
its (service, day) buckets, one UpdateItem ADD a bucket, never a read.

Events are produced once per real change (see `core.message_events`), so adding them is
enough: nothing here deduplicates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from core.message_events.model import MessageEvent, MessageEventType
from core.ports import StatsStore
from core.stats.model import COUNTERS

# The counter each event type adds one to (`queued` is counted by nobody: `accepted` is).
_COUNTED = frozenset(COUNTERS) & {kind.value for kind in MessageEventType}


def tally(events: Sequence[MessageEvent]) -> dict[tuple[str, str], Counter[str]]:
    """What `events` add to each (service, day) bucket."""
    buckets: dict[tuple[str, str], Counter[str]] = {}
    for event in events:
        bucket = buckets.setdefault((event.service, event.day), Counter())
        if event.type.value in _COUNTED:
            bucket[event.type.value] += 1
        if event.type is MessageEventType.SENT:
            bucket["recipients"] += int(event.data.get("recipients", 0))
    return {key: counts for key, counts in buckets.items() if +counts}


class DailyCounters:
    def __init__(self, store: StatsStore) -> None:
        self._store = store

    def publish(self, events: Sequence[MessageEvent]) -> None:
        for (service, day), counts in tally(events).items():
            self._store.add(service, day, +counts)
