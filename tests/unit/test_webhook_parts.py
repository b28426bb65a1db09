"""Webhooks without sockets or AWS: the signature, the URL rules, the retry schedule, the
fan-out's matching and cache, and what a delivery logs (the real calls are in
tests/integration/test_webhooks.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from core.errors import InvalidRequest
from core.message_events.model import MessageEvent, MessageEventType
from core.network.destination import DestinationPolicy
from core.webhooks.delivery import RetrySchedule, WebhookDeliverer
from core.webhooks.model import DeliveryJob, Outcome, StoredWebhook, payload_of
from core.webhooks.post import Answer
from core.webhooks.publisher import WebhookPublisher
from core.webhooks.signing import new_secret, signature
from core.webhooks.url import check_webhook_url, parse_webhook_url
from tests.support.fake_clock import FakeClock
from tests.support.fake_webhooks import (
    FakeAttemptLog,
    FakeJobQueue,
    FakePoster,
    FakeSecretStore,
    FakeWebhookStore,
)

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
STRICT = DestinationPolicy(allow_loopback=False, allow_private=False, ports=frozenset({443}))


def _webhook(webhook_id: str = "wh_1", **fields: object) -> StoredWebhook:
    values: dict[str, object] = {
        "id": webhook_id,
        "url": "https://hooks.example.com/x",
        "events": ["sent"],
        "created_at": "2026-12-01T00:00:00+00:00",
        "secret_id": f"test/webhooks/{webhook_id}",
        **fields,
    }
    return StoredWebhook.model_validate(values)


def _event(kind: MessageEventType = MessageEventType.SENT, service: str = "email") -> MessageEvent:
    return MessageEvent(type=kind, message_id="m-1", service=service, at=AT)


# --- signing -------------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() -> None:
    body = b'{"type":"sent"}'
    expected = hmac.new(b"whsec_k", b"1764581400." + body, hashlib.sha256).hexdigest()

    assert signature("whsec_k", 1764581400, body) == f"v1={expected}"


def test_secrets_are_fresh_and_long() -> None:
    first, second = new_secret(), new_secret()

    assert first != second
    assert first.startswith("whsec_")
    assert len(first) == len("whsec_") + 43  # 32 bytes, URL-safe base64 without padding


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "webhook_scheme_forbidden"),
        ("ftp://hooks.example.com/", "webhook_scheme_forbidden"),
        ("https://u:p@hooks.example.com/", "invalid_webhook_url"),
        ("https:///path", "invalid_webhook_url"),
        ("https://hooks.example.com/#frag", "invalid_webhook_url"),
        ("https://hooks.example.com:99999/", "invalid_webhook_url"),
        ("https://bad host/", "invalid_webhook_url"),
    ],
)
def test_urls_refused_as_written(url: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_webhook_url(url, allow_http=False)

    assert refused.value.reason == reason


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://2130706433/",
        "https://[::1]/",
        "https://localhost/",
        "https://10.0.0.8/",
        "https://169.254.169.254/latest",
        "https://metadata.google.internal/",
        "https://hooks.example.com:8080/",
    ],
)
def test_the_guard_refuses_these_destinations(url: str) -> None:
    parsed = parse_webhook_url(url, allow_http=False)

    with pytest.raises(InvalidRequest) as refused:
        check_webhook_url(parsed, STRICT)

    assert refused.value.reason == "webhook_destination_forbidden"


def test_a_public_https_url_is_read_with_its_port_and_target() -> None:
    parsed = parse_webhook_url("https://Hooks.Example.com/in?token=1", allow_http=False)

    check_webhook_url(parsed, STRICT)
    assert (parsed.scheme, parsed.port, parsed.target) == ("https", 443, "/in?token=1")


# --- retries -------------------------------------------------------------------------------------


def test_the_wait_doubles_from_30_seconds_to_15_minutes_then_gives_up() -> None:
    schedule = RetrySchedule()

    waits = [schedule.wait_after(attempt) for attempt in range(1, 13)]

    assert waits == [30, 60, 120, 240, 480, 900, 900, 900, 900, 900, 900, None]


# --- the fan-out ---------------------------------------------------------------------------------


def test_each_event_is_queued_once_per_subscription_that_wants_it() -> None:
    store = FakeWebhookStore()
    store.create(_webhook("wh_sent", events=["sent"]))
    store.create(_webhook("wh_all_billing", events=["*"], service="billing"))
    store.create(_webhook("wh_bounces", events=["bounced", "complained"]))
    queue = FakeJobQueue()
    publisher = WebhookPublisher(store, queue, FakeClock())

    publisher.publish(
        [
            _event(MessageEventType.SENT),
            _event(MessageEventType.SENT, service="billing"),
            _event(MessageEventType.DELAYED),
        ]
    )

    assert sorted((job.webhook_id, job.payload["service"]) for job in queue.jobs) == [
        ("wh_all_billing", "billing"),
        ("wh_sent", "billing"),
        ("wh_sent", "email"),
    ]


def test_the_subscriptions_are_read_once_per_cache_period() -> None:
    store = FakeWebhookStore()
    clock = FakeClock()
    publisher = WebhookPublisher(store, FakeJobQueue(), clock, cache_seconds=30)

    for _ in range(5):
        publisher.publish([_event()])
    clock.advance(30)
    publisher.publish([_event()])

    assert store.reads == 2


# --- delivering ----------------------------------------------------------------------------------


def _deliverer(poster: FakePoster, log: FakeAttemptLog) -> tuple[WebhookDeliverer, str]:
    store = FakeWebhookStore()
    secrets = FakeSecretStore()
    secret = new_secret()
    secret_id = secrets.create("wh_1", secret)
    store.create(_webhook(secret_id=secret_id))
    clock = FakeClock(at=AT)
    return WebhookDeliverer(store, secrets, poster, log, clock), secret


def test_a_call_is_signed_and_its_attempt_logged() -> None:
    poster, log = FakePoster(), FakeAttemptLog()
    deliverer, secret = _deliverer(poster, log)
    payload = payload_of(_event())

    logged = deliverer.deliver(DeliveryJob(webhook_id="wh_1", payload=payload), attempt=1)

    (call,) = poster.calls
    assert json.loads(call.body) == payload
    timestamp = int(call.headers["X-Webhook-Timestamp"])
    assert timestamp == int(AT.timestamp())
    assert call.headers["X-Webhook-Signature"] == signature(secret, timestamp, call.body)
    assert logged is not None
    assert log.attempts == [logged]
    assert (logged.outcome, logged.status, logged.next_attempt_in) == (Outcome.DELIVERED, 200, None)
    assert secret not in logged.model_dump_json()


def test_a_failed_call_says_when_to_come_back_until_the_last_attempt() -> None:
    poster = FakePoster(answers=[Answer(None, "could not be reached (refused)", 0.001)])
    log = FakeAttemptLog()
    deliverer, _ = _deliverer(poster, log)
    job = DeliveryJob(webhook_id="wh_1", payload=payload_of(_event()))

    second = deliverer.deliver(job, attempt=2)
    last = deliverer.deliver(job, attempt=12)

    assert second is not None
    assert last is not None
    assert (second.outcome, second.next_attempt_in) == (Outcome.RETRYING, 60)
    assert (last.outcome, last.next_attempt_in) == (Outcome.FAILED, None)


def test_a_call_for_a_deleted_subscription_is_dropped() -> None:
    poster, log = FakePoster(), FakeAttemptLog()
    deliverer, _ = _deliverer(poster, log)

    dropped = deliverer.deliver(DeliveryJob(webhook_id="wh_gone", payload={}), attempt=1)

    assert dropped is None
    assert poster.calls == []
    assert log.attempts == []
