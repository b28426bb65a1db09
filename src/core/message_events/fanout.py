"""Every consumer of message events behind the one `MessageEventSink` the send path holds.

A consumer that fails is logged and skipped: the daily counters or a webhook's queue being
down must never fail, nor undo, a send that already happened.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger

from core.message_events.model import MessageEvent
from core.ports import MessageEventSink

logger = Logger(child=True)


class FanOut:
    """Publishes each batch of events to every consumer, in order."""

    def __init__(self, consumers: Sequence[MessageEventSink]) -> None:
        self._consumers = tuple(consumers)

    def publish(self, events: Sequence[MessageEvent]) -> None:
        if not events:
            return
        for consumer in self._consumers:
            try:
                consumer.publish(events)
            except Exception:  # one consumer's fault is logged, never the send's failure
                logger.exception(
                    "A message event consumer failed",
                    consumer=type(consumer).__name__,
                    events=len(events),
                )
