"""A provider's outage of hours (issue 17, finding 3), over fakes and a clock that moves only
when told: queued mail keeps trying for its service's retry window (a day by default), at
most 15 minutes apart, and no attempt cap unless the operator sets one. An outage shorter
than the window loses nothing; one longer ends `failed` (`retries_exhausted`) saying when the
message first and last tried."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.delivery.attempt import Done, RetryIn
from core.delivery.courier import Courier
from core.delivery.job import Job
from core.delivery.message_record import Status
from core.delivery.retry import MAX_BACKOFF_SECONDS, backoff_seconds
from core.send_request import parse_send_request
from core.services.config import SmtpConfig
from core.transport.base import Deadline
from core.transport.smtp.errors import SmtpDeferred, SmtpOutcomeUnknown
from tests.support.fake_services import smtp_service
from tests.support.send_path import SendPath

KEY = "key-1"
ROLE = Role(name="app", services=["email"], senders=["*@example.com"])
HOUR = 3600
# The budget before this change: 8 attempts, base x 2^(n-1) apart, up to 190 x base.
OLD_BUDGET_SECONDS = 190 * 30


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service())
    path.keys[KEY] = Principal(KEY, ROLE)
    return path


def _queued(path: SendPath) -> Job:
    request = parse_send_request({"to": "john@example.com", "body_text": "Hi"})
    path.mailer().accept(path.keys[KEY], "email", request)
    return path.queue.queued[-1].job


def _courier(path: SendPath, window_hours: float = 24) -> Courier:
    # No attempt cap (the operator's default); the deployed base of 30 s.
    return path.courier(max_attempts=None, base_seconds=30, window_seconds=int(window_hours * HOUR))


def _run_through(
    path: SendPath, job: Job, courier: Courier, outage_seconds: float
) -> tuple[Done, list[int], list[datetime]]:
    """Attempt after attempt, the clock moving by each wait, the server deferring every
    attempt that starts within `outage_seconds` of the first: the outcome, the waits and
    when each attempt was made."""
    start = path.clock.now()
    waits: list[int] = []
    tried: list[datetime] = []
    while True:
        if path.clock.now() - start < timedelta(seconds=outage_seconds):
            path.outbox.fail_next(SmtpDeferred("421 4.7.0 Try again later"))
        tried.append(path.clock.now())
        outcome = courier.process(job, Deadline.after(30))
        if isinstance(outcome, Done):
            return outcome, waits, tried
        assert isinstance(outcome, RetryIn)
        waits.append(outcome.seconds)
        path.clock.advance(outcome.seconds)


def test_an_outage_of_hours_within_the_window_loses_nothing(path: SendPath) -> None:
    """Six hours of 421s, far past the old budget of 8 attempts (about 95 minutes deployed):
    the message keeps trying, never more than 15 minutes apart, and goes out once the
    server is back."""
    job = _queued(path)

    outcome, waits, tried = _run_through(path, job, _courier(path), outage_seconds=6 * HOUR)

    assert outcome == Done(Status.SENT)
    assert len(path.outbox.messages) == 1
    assert tried[-1] - tried[0] > timedelta(seconds=OLD_BUDGET_SECONDS)
    assert len(tried) > 8
    assert max(waits) <= MAX_BACKOFF_SECONDS
    assert tried[-1] - tried[0] < timedelta(hours=6, seconds=MAX_BACKOFF_SECONDS + 1)
    record = path.records.get(job.id)
    assert (record.status, record.attempts) == (Status.SENT, len(tried))


def test_an_outage_past_the_window_fails_with_its_reason_and_times(path: SendPath) -> None:
    """A two-hour window and a longer outage: `failed`, `retries_exhausted`, the first and
    the last attempt recorded; no attempt starts after the window, and the last one is
    within its last 15 minutes."""
    job = _queued(path)
    start = path.clock.now()

    outcome, _waits, tried = _run_through(path, job, _courier(path, 2), outage_seconds=5 * HOUR)

    assert outcome == Done(Status.FAILED)
    record = path.records.get(job.id)
    assert (record.status, record.reason) == (Status.FAILED, "retries_exhausted")
    assert record.reply == "421 4.7.0 Try again later"
    assert record.first_tried_at == start.isoformat(timespec="seconds")
    assert record.last_tried_at == tried[-1].isoformat(timespec="seconds")
    assert timedelta(hours=2) - timedelta(seconds=MAX_BACKOFF_SECONDS) <= tried[-1] - start
    assert tried[-1] - start <= timedelta(hours=2)
    assert path.outbox.messages == []
    assert record.public()["first_tried_at"] == record.first_tried_at


def test_a_services_own_window_decides(path: SendPath) -> None:
    """`retry_window_minutes` on the service overrides the operator's default."""
    path.services.add(smtp_service(retry_window_minutes=30))
    job = _queued(path)

    outcome, _waits, tried = _run_through(path, job, _courier(path, 24), outage_seconds=HOUR)

    assert outcome == Done(Status.FAILED)
    assert tried[-1] - tried[0] <= timedelta(minutes=30)


def test_an_operator_cap_on_attempts_still_holds(path: SendPath) -> None:
    job = _queued(path)
    courier = path.courier(max_attempts=4, base_seconds=30, window_seconds=24 * HOUR)

    outcome, _waits, tried = _run_through(path, job, courier, outage_seconds=HOUR)

    assert outcome == Done(Status.FAILED)
    assert len(tried) == 4


def test_an_unknown_outcome_resent_within_the_window_ends_unknown(path: SendPath) -> None:
    """`unknown_outcome: retry` resends through the window too; a message whose first
    attempt may have gone is never `failed`, whatever ends it."""
    path.services.add(smtp_service(unknown_outcome="retry"))
    job = _queued(path)
    path.outbox.fail_next(SmtpOutcomeUnknown("Connection closed after the final dot"))
    courier = _courier(path, 1)

    first = courier.process(job, Deadline.after(30))
    assert isinstance(first, RetryIn)
    path.clock.advance(first.seconds)
    outcome, _waits, _tried = _run_through(path, job, courier, outage_seconds=2 * HOUR)

    assert outcome == Done(Status.UNKNOWN)
    record = path.records.get(job.id)
    assert (record.may_have_gone, record.reason) == (True, "retries_exhausted")


@pytest.mark.parametrize("attempt", [1, 6, 7, 40, 10_000])
def test_the_backoff_is_capped_at_sqs_longest_delay(attempt: int) -> None:
    waits = [backoff_seconds(attempt, 30, rng=random.Random(seed)) for seed in range(50)]
    assert max(waits) <= MAX_BACKOFF_SECONDS == 900
    assert min(waits) >= 1


@pytest.mark.parametrize("minutes", [0, 5 * 24 * 60 + 1])
def test_a_services_window_is_bounded(minutes: int) -> None:
    with pytest.raises(ValueError, match="retry_window_minutes"):
        SmtpConfig.model_validate({"host": "smtp.example.com", "retry_window_minutes": minutes})


def test_a_record_is_kept_30_days_from_its_last_attempt(path: SendPath) -> None:
    """A message scheduled weeks ahead does not expire (DynamoDB's TTL) inside its window."""
    job = _queued(path)
    accepted = path.records.get(job.id).expires_at
    path.clock.advance(20 * 86_400)
    path.outbox.fail_next(SmtpDeferred("421 4.7.0 Try again later"))

    _courier(path).process(job, Deadline.after(30))

    assert path.records.get(job.id).expires_at == accepted + 20 * 86_400
