"""Webhook subscriptions as the admin API uses them: subscribe (the secret answered once),
list, look up, unsubscribe, the delivery log, and the test ping."""

from __future__ import annotations

import secrets

from core.errors import NotFound
from core.network.destination import DestinationPolicy
from core.ports import AttemptLog, Clock, ServiceStore, WebhookSecretStore, WebhookStore
from core.webhooks.delivery import WebhookDeliverer
from core.webhooks.model import (
    EVERY_EVENT,
    Attempt,
    AttemptPage,
    CreatedWebhook,
    StoredWebhook,
    Webhook,
    WebhookInput,
)
from core.webhooks.signing import new_secret
from core.webhooks.url import check_webhook_url, parse_webhook_url

WEBHOOK_ID_PATTERN = r"^wh_[0-9a-f]{32}$"


class Webhooks:
    def __init__(
        self,
        store: WebhookStore,
        secrets: WebhookSecretStore,
        services: ServiceStore,
        log: AttemptLog,
        deliverer: WebhookDeliverer,
        clock: Clock,
        *,
        destinations: DestinationPolicy,
        allow_http: bool,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._services = services
        self._log = log
        self._deliverer = deliverer
        self._clock = clock
        self._destinations = destinations
        self._allow_http = allow_http

    def subscribe(self, request: WebhookInput) -> CreatedWebhook:
        """Check everything (a 400 or 404 before anything is kept), then keep the secret in
        Secrets Manager and the subscription, naming the secret's id, in the table."""
        url = parse_webhook_url(request.url, allow_http=self._allow_http)
        check_webhook_url(url, self._destinations)
        if request.service is not None:
            self._services.by_name(request.service)  # a typo would be told of nothing
        events = sorted(set(request.events))
        webhook_id = "wh_" + secrets.token_hex(16)
        secret = new_secret()
        stored = StoredWebhook(
            id=webhook_id,
            url=request.url.strip(),
            events=[EVERY_EVENT] if EVERY_EVENT in events else events,
            service=request.service,
            description=request.description,
            created_at=self._clock.now().isoformat(timespec="seconds"),
            secret_id=self._secrets.create(webhook_id, secret),
        )
        try:
            self._store.create(stored)
        except BaseException:
            self._secrets.delete(stored.secret_id)
            raise
        return CreatedWebhook(**stored.public().model_dump(), secret=secret)

    def all(self) -> list[Webhook]:
        return sorted(
            (webhook.public() for webhook in self._store.all()), key=lambda w: w.created_at
        )

    def get(self, webhook_id: str) -> Webhook:
        return self._stored(webhook_id).public()

    def remove(self, webhook_id: str) -> None:
        """Unsubscribe: calls still queued for it are dropped when their turn comes."""
        webhook = self._stored(webhook_id)
        self._store.delete(webhook_id)
        self._secrets.delete(webhook.secret_id)
        self._log.delete_all(webhook_id)

    def deliveries(self, webhook_id: str, *, limit: int, cursor: str | None) -> AttemptPage:
        self._stored(webhook_id)
        return self._log.page(webhook_id, limit=limit, cursor=cursor)

    def test(self, webhook_id: str, data: dict[str, str] | None = None) -> Attempt:
        return self._deliverer.ping(self._stored(webhook_id), data)

    def _stored(self, webhook_id: str) -> StoredWebhook:
        webhook = self._store.get(webhook_id)
        if webhook is None:
            raise NotFound(f"Webhook '{webhook_id}' not found.", reason="webhook_not_found")
        return webhook
