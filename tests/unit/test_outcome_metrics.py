"""Outcome metrics: each message event counted as its metric (`OutcomeMetrics`), a limit's
refusal counted where admission asks (`Admission`), and each handover timed and its round
trips counted (`Deliverer`); all through the `MetricRecorder` port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.admission import Admission
from core.delivery.deliver import Deliverer
from core.errors import RateLimited
from core.message_events.model import MessageEvent, MessageEventType
from core.observability.names import Metric
from core.observability.outcomes import OutcomeMetrics
from core.outbound import Sealed
from core.services.model import Service
from core.transport.base import Deadline, Delivery, Envelope
from tests.support.fake_limiter import FakeLimiter
from tests.support.fake_metrics import RecordedMetrics
from tests.support.fake_services import smtp_service

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def _event(kind: MessageEventType, **data: Any) -> MessageEvent:
    recipient = "john@example.com" if kind is MessageEventType.SUPPRESSED else None
    return MessageEvent(
        type=kind, message_id="m1", service="email", recipient=recipient, at=AT, data=data
    )


@pytest.mark.parametrize(
    ("kind", "metric"),
    [
        (MessageEventType.ACCEPTED, Metric.ACCEPTED),
        (MessageEventType.SENT, Metric.SENT),
        (MessageEventType.DEFERRED, Metric.DEFERRED),
        (MessageEventType.UNKNOWN, Metric.UNKNOWN),
        (MessageEventType.SUPPRESSED, Metric.SUPPRESSED),
    ],
)
def test_each_outcome_event_is_one_of_its_metric(kind: MessageEventType, metric: Metric) -> None:
    recorded = RecordedMetrics()

    OutcomeMetrics(recorded).publish([_event(kind, attempts=1)])

    assert recorded.counts == {(metric, None): 1}


def test_a_failure_is_counted_by_its_reason_too() -> None:
    recorded = RecordedMetrics()

    OutcomeMetrics(recorded).publish(
        [
            _event(MessageEventType.FAILED, reason="smtp_auth_failed", attempts=1),
            _event(MessageEventType.FAILED, reason="smtp_rejected", attempts=1),
            _event(MessageEventType.FAILED, attempts=1),  # no reason kept: named so
        ]
    )

    assert recorded.counts == {
        (Metric.FAILED, None): 3,
        (Metric.FAILED, "smtp_auth_failed"): 1,
        (Metric.FAILED, "smtp_rejected"): 1,
        (Metric.FAILED, "unknown"): 1,
    }


def test_an_attempt_after_the_first_is_a_retry_whatever_its_outcome() -> None:
    recorded = RecordedMetrics()

    OutcomeMetrics(recorded).publish(
        [
            _event(MessageEventType.DEFERRED, attempts=1),
            _event(MessageEventType.DEFERRED, attempts=2),
            _event(MessageEventType.SENT, attempts=3),
        ]
    )

    assert recorded.counts[Metric.RETRIED, None] == 2


@pytest.mark.parametrize(
    "kind",
    [
        MessageEventType.QUEUED,
        MessageEventType.CANCELLED,
        MessageEventType.DELIVERED,
        MessageEventType.BOUNCED,
        MessageEventType.COMPLAINED,
        MessageEventType.DELAYED,
    ],
)
def test_other_events_are_no_outcome_metric(kind: MessageEventType) -> None:
    recorded = RecordedMetrics()
    event = MessageEvent(
        type=kind,
        message_id="m1",
        service="email",
        recipient=None if kind in (MessageEventType.QUEUED, MessageEventType.CANCELLED) else "j@x",
        at=AT,
        data={"attempts": 4},
    )

    OutcomeMetrics(recorded).publish([event])

    assert recorded.counts == {}


def test_a_limits_refusal_is_counted_by_admission() -> None:
    limiter, recorded = FakeLimiter(), RecordedMetrics()
    admission = Admission(limiter, max_recipients=3, metrics=recorded)
    role = Role(name="app", services=["*"], senders=["*"], rate_limits={"per_minute": 1})
    limiter.refuse("app", retry_after=10)

    with pytest.raises(RateLimited):
        admission.take(Principal("key-1", role), smtp_service())
    admission.take(Principal.bootstrap(), smtp_service())

    assert recorded.counts == {(Metric.RATE_LIMITED, None): 1}


class _CountingTransport:
    """Hands every message over, saying it took `round_trips`."""

    def __init__(self, round_trips: int | None) -> None:
        self.round_trips = round_trips

    def open(self, deadline: Deadline) -> None:
        pass

    def send(self, message: bytes, envelope: Envelope, deadline: Deadline) -> Delivery:
        return Delivery(accepted=envelope.recipients, round_trips=self.round_trips)

    def close(self) -> None:
        pass

    def __enter__(self) -> _CountingTransport:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _Factory:
    def __init__(self, round_trips: int | None) -> None:
        self.round_trips = round_trips

    def __call__(self, service: Service) -> _CountingTransport:
        return _CountingTransport(self.round_trips)

    def identity(self, service: Service) -> str:
        return service.name


@pytest.mark.parametrize(("round_trips", "counted"), [(4, 4), (None, 0)])
def test_each_handover_is_timed_and_its_round_trips_counted(
    round_trips: int | None, counted: int, sealed: Sealed
) -> None:
    recorded = RecordedMetrics()
    deliverer = Deliverer(_Factory(round_trips), metrics=recorded)

    deliverer.deliver(smtp_service(), sealed, ["john@example.com"], Deadline.after(5))

    (latency,) = recorded.durations[Metric.SMTP_LATENCY]
    assert 0 <= latency < 5000
    assert recorded.counts[Metric.ROUND_TRIPS, None] == counted


@pytest.fixture
def sealed() -> Sealed:
    from core.addresses import Mailbox
    from core.message import Message
    from core.outbound import seal

    return seal(
        Message(
            sender=Mailbox("noreply@example.com"),
            to=[Mailbox("john@example.com")],
            body_text="Hi",
            message_id="<fixed@example.com>",
            date=AT,
        ),
        max_bytes=1_000_000,
    )
