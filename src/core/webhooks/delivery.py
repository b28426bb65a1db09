"""Making one webhook call, signing it, logging the attempt, and saying when to try again.

A call that gets no 2xx is retried after a wait that doubles from `first_wait_seconds` up to
`longest_wait_seconds` (30 s, 1, 2, 4, 8 min, then every 15 min), `max_attempts` in all
(about 1 h 45 min); then it is logged as failed. Every attempt is a line in the endpoint's
delivery log. The secret goes into the signature and nowhere else: no log line, no error.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from core.ports import AttemptLog, Clock, WebhookSecretStore, WebhookStore
from core.webhooks.model import PING, Attempt, DeliveryJob, Outcome, StoredWebhook, body_of
from core.webhooks.post import Answer
from core.webhooks.signing import signature

logger = Logger(child=True)


class Poster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer: ...


@dataclass(frozen=True)
class RetrySchedule:
    first_wait_seconds: int = 30
    longest_wait_seconds: int = 900
    max_attempts: int = 12

    def wait_after(self, attempt: int) -> int | None:
        """Seconds until the next attempt after failed attempt number `attempt` (from 1);
        None when it was the last."""
        if attempt >= self.max_attempts:
            return None
        wait: int = self.first_wait_seconds * 2 ** (attempt - 1)
        return min(wait, self.longest_wait_seconds)


@dataclass(frozen=True)
class SignedCall:
    """A call ready to make: its body and headers, the signature among them."""

    webhook: StoredWebhook
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]


class WebhookDeliverer:
    def __init__(
        self,
        webhooks: WebhookStore,
        secrets: WebhookSecretStore,
        poster: Poster,
        log: AttemptLog,
        clock: Clock,
        schedule: RetrySchedule | None = None,
    ) -> None:
        self._webhooks = webhooks
        self._secrets = secrets
        self._poster = poster
        self._log = log
        self._clock = clock
        self._schedule = schedule or RetrySchedule()

    def deliver(self, job: DeliveryJob, attempt: int) -> Attempt | None:
        """Make attempt number `attempt` of `job`'s call; the logged attempt (its
        `next_attempt_in` says when to try again), or None if the subscription is gone."""
        return self.deliver_all([(job, attempt)])[0]

    def deliver_all(self, batch: Sequence[tuple[DeliveryJob, int]]) -> list[Attempt | None]:
        """`deliver` for each (job, attempt number) of `batch`, the calls made side by side:
        a batch takes as long as its slowest call, so an endpoint that is down (or stalls to
        the timeout) costs its neighbours in the batch no more than one call's time."""
        calls = [self._prepared(job) for job, _ in batch]
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            answers = list(pool.map(self._post, calls))
        return [
            None if call is None or answer is None else self._settled(call, attempt, answer)
            for call, (_, attempt), answer in zip(calls, batch, answers, strict=True)
        ]

    def _prepared(self, job: DeliveryJob) -> SignedCall | None:
        webhook = self._webhooks.get(job.webhook_id)
        if webhook is None:
            logger.info("webhook gone; call dropped", extra={"webhook_id": job.webhook_id})
            return None
        return self._signed(webhook, job.payload)

    def _post(self, call: SignedCall | None) -> Answer | None:
        # Only the HTTP exchange runs on the pool's threads: the stores' reads and writes
        # stay on the invocation's own thread.
        return (
            None if call is None else self._poster.post(call.webhook.url, call.body, call.headers)
        )

    def _settled(self, call: SignedCall, attempt: int, answer: Answer) -> Attempt:
        wait = None if answer.delivered else self._schedule.wait_after(attempt)
        outcome = (
            Outcome.DELIVERED
            if answer.delivered
            else Outcome.RETRYING
            if wait is not None
            else Outcome.FAILED
        )
        return self._logged(call.webhook, call.payload, attempt, outcome, answer, wait)

    def ping(self, webhook: StoredWebhook, data: dict[str, str] | None = None) -> Attempt:
        """A `ping` call to `webhook`, now, signed as any other (`data` beside the webhook's
        id in its `data`); its attempt, logged."""
        payload: dict[str, Any] = {
            "id": secrets.token_hex(16),
            "type": PING,
            "message_id": None,
            "service": webhook.service,
            "at": self._clock.now().isoformat(timespec="seconds"),
            "data": {**(data or {}), "webhook_id": webhook.id},
        }
        answer = self._call(webhook, payload)
        outcome = Outcome.DELIVERED if answer.delivered else Outcome.FAILED
        return self._logged(webhook, payload, 1, outcome, answer, None)

    def _call(self, webhook: StoredWebhook, payload: dict[str, Any]) -> Answer:
        call = self._signed(webhook, payload)
        return self._poster.post(webhook.url, call.body, call.headers)

    def _signed(self, webhook: StoredWebhook, payload: dict[str, Any]) -> SignedCall:
        timestamp = int(self._clock.now().timestamp())
        body = body_of(payload)
        secret = self._secrets.get(webhook.secret_id)
        headers = {
            "X-Webhook-Id": str(payload["id"]),
            "X-Webhook-Timestamp": str(timestamp),
            "X-Webhook-Signature": signature(secret, timestamp, body),
        }
        return SignedCall(webhook, payload, body, headers)

    def _logged(
        self,
        webhook: StoredWebhook,
        payload: dict[str, Any],
        attempt: int,
        outcome: Outcome,
        answer: Answer,
        wait: int | None,
    ) -> Attempt:
        line = Attempt(
            webhook_id=webhook.id,
            event_id=str(payload["id"]),
            type=str(payload["type"]),
            attempt=attempt,
            outcome=outcome,
            status=answer.status,
            error=answer.error,
            seconds=answer.seconds,
            at=self._clock.now().isoformat(timespec="microseconds"),
            next_attempt_in=wait,
        )
        self._log.record(line)
        log = logger.info if outcome is Outcome.DELIVERED else logger.warning
        log("webhook call", extra=line.model_dump(mode="json", exclude={"at"}))
        return line
