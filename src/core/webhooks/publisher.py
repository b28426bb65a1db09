"""The webhooks' `MessageEventSink`: each event becomes one queued call per subscription that
wants it. The send path only enqueues; the calls are made by the sender function.

The subscriptions are read at most once per `cache_seconds` per container: a send while
nobody subscribes costs no read most of the time, and a new subscription is heard of within
that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.message_events.model import MessageEvent
from core.ports import Clock, WebhookJobQueue, WebhookStore
from core.webhooks.model import DeliveryJob, StoredWebhook, payload_of


class WebhookPublisher:
    def __init__(
        self,
        webhooks: WebhookStore,
        queue: WebhookJobQueue,
        clock: Clock,
        *,
        cache_seconds: float = 30.0,
    ) -> None:
        self._webhooks = webhooks
        self._queue = queue
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._cached: list[StoredWebhook] = []
        self._read_at: datetime | None = None

    def publish(self, events: Sequence[MessageEvent]) -> None:
        subscriptions = self._subscriptions()
        jobs = [
            DeliveryJob(webhook_id=webhook.id, payload=payload_of(event))
            for event in events
            for webhook in subscriptions
            if webhook.wants(event)
        ]
        if jobs:
            self._queue.enqueue(jobs)

    def _subscriptions(self) -> list[StoredWebhook]:
        now = self._clock.now()
        if self._read_at is None or (now - self._read_at).total_seconds() >= self._cache_seconds:
            self._cached = self._webhooks.all()
            self._read_at = now
        return self._cached
