"""A `MessageEventSink` that keeps what it is given (unit tests): each publish, in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.message_events.model import MessageEvent, MessageEventType
from core.ports import MessageEventSink


@dataclass
class CollectedEvents:
    publishes: list[list[MessageEvent]] = field(default_factory=list)

    def publish(self, events: Sequence[MessageEvent]) -> None:
        self.publishes.append(list(events))

    @property
    def events(self) -> list[MessageEvent]:
        return [event for batch in self.publishes for event in batch]

    def types(self) -> list[tuple[MessageEventType, str | None]]:
        """Each event's type and recipient, in order."""
        return [(event.type, event.recipient) for event in self.events]

    def clear(self) -> None:
        self.publishes.clear()


_sink: MessageEventSink = CollectedEvents()
