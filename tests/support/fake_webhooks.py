"""In-memory stand-ins for the webhooks' stores, queue and HTTP call (unit tests); mypy
checks them against the ports at the bottom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.ports import AttemptLog, WebhookJobQueue, WebhookSecretStore, WebhookStore
from core.webhooks.delivery import Poster
from core.webhooks.model import Attempt, AttemptPage, DeliveryJob, StoredWebhook
from core.webhooks.post import Answer


@dataclass
class FakeWebhookStore:
    webhooks: dict[str, StoredWebhook] = field(default_factory=dict)
    reads: int = 0  # how often `all` was called: the fan-out's cache keeps it low

    def create(self, webhook: StoredWebhook) -> None:
        if webhook.id in self.webhooks:
            raise RuntimeError(f"Webhook id {webhook.id} is taken.")
        self.webhooks[webhook.id] = webhook

    def get(self, webhook_id: str) -> StoredWebhook | None:
        return self.webhooks.get(webhook_id)

    def all(self) -> list[StoredWebhook]:
        self.reads += 1
        return list(self.webhooks.values())

    def delete(self, webhook_id: str) -> None:
        self.webhooks.pop(webhook_id, None)


@dataclass
class FakeSecretStore:
    secrets: dict[str, str] = field(default_factory=dict)

    def create(self, webhook_id: str, secret: str) -> str:
        secret_id = f"test/webhooks/{webhook_id}"
        self.secrets[secret_id] = secret
        return secret_id

    def get(self, secret_id: str) -> str:
        return self.secrets[secret_id]

    def delete(self, secret_id: str) -> None:
        self.secrets.pop(secret_id, None)


@dataclass
class FakeJobQueue:
    jobs: list[DeliveryJob] = field(default_factory=list)

    def enqueue(self, jobs: Sequence[DeliveryJob]) -> None:
        self.jobs.extend(jobs)


@dataclass
class FakeAttemptLog:
    attempts: list[Attempt] = field(default_factory=list)

    def record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)

    def page(self, webhook_id: str, *, limit: int, cursor: str | None) -> AttemptPage:
        mine = [a for a in reversed(self.attempts) if a.webhook_id == webhook_id]
        return AttemptPage(attempts=mine[:limit])

    def delete_all(self, webhook_id: str) -> None:
        self.attempts = [a for a in self.attempts if a.webhook_id != webhook_id]


@dataclass
class Call:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class FakePoster:
    """Answers each call with the next of `answers` (the last one again when they run out)."""

    answers: list[Answer] = field(default_factory=lambda: [Answer(200, None, 0.01)])
    calls: list[Call] = field(default_factory=list)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        self.calls.append(Call(url, body, dict(headers)))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


_store: WebhookStore = FakeWebhookStore()
_secrets: WebhookSecretStore = FakeSecretStore()
_queue: WebhookJobQueue = FakeJobQueue()
_log: AttemptLog = FakeAttemptLog()
_poster: Poster = FakePoster()
