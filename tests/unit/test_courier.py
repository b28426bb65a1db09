"""The worker's side of a queued message (`Courier`), over fakes: one attempt at a time, and
what the state machine does after it. Jobs are queued by `Mailer.accept`, as in production;
each test says what the outbox received, the record's final state, and what became of the
provider's allowance."""

from __future__ import annotations

import contextlib
import math
from datetime import datetime, timedelta
from typing import Any, cast

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.delivery.attempt import Done, Hop, RetryIn
from core.delivery.connection_slots import (
    LONGEST_LOOK_SECONDS,
    PATIENCE_SECONDS,
    ConnectionSlots,
    HeldSlots,
    Wanted,
)
from core.delivery.courier import Crashed
from core.delivery.job import MAX_DELAY_SECONDS, Job
from core.delivery.message_record import MessageRecord, Status
from core.message import Message
from core.ports import TransportFactory
from core.send_request import parse_send_request
from core.storage import ItemTable
from core.transport.base import Deadline, Outgoing
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
)
from tests.support.fake_delivery import FakeMessageQueue
from tests.support.fake_limiter import FakeLimiter
from tests.support.fake_services import smtp_service
from tests.support.outbox import PROVIDER_MESSAGE_ID, REPLY, SentMessage, UnbuildableTransports
from tests.support.send_path import SendPath

KEY = "key-1"
ROLE = Role(name="app", services=["email"], senders=["*@example.com"])
PROVIDER = "service:email"
JOHN, JANE, GONE = "john@example.com", "jane@example.com", "gone@example.com"


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service())
    path.keys[KEY] = Principal(KEY, ROLE)
    return path


def _queued(path: SendPath, service: str = "email", **body: Any) -> Job:
    """A job as `Mailer.accept` queues it; the fakes then start afresh for the worker."""
    request = parse_send_request({"to": JOHN, "subject": "Hi", "body_text": "Hi", **body})
    path.mailer().accept(path.keys[KEY], service, request)
    path.services.lookups.clear()
    path.limiter = FakeLimiter()
    return path.queue.queued[-1].job


def _record(path: SendPath, job: Job) -> MessageRecord:
    return path.records.get(job.id)


def _process(path: SendPath, job: Job, **courier: Any) -> Done | RetryIn | Hop:
    return path.courier(**courier).process(job, Deadline.after(30))


def _nothing_sent(path: SendPath) -> None:
    assert path.outbox.services == []
    assert path.outbox.handed == []
    assert (path.outbox.opened, path.outbox.closed) == (0, 0)


def _provider_given_back(path: SendPath) -> None:
    """The attempt took the provider's unit and, having sent nothing, gave it back."""
    assert (path.limiter.taken[PROVIDER], path.limiter.released[PROVIDER]) == (1, 1)


def _provider_kept(path: SendPath, attempts: int = 1) -> None:
    """Every attempt reached the server: the provider's units stay taken."""
    assert (path.limiter.taken[PROVIDER], path.limiter.released[PROVIDER]) == (attempts, 0)


def _backoff(outcome: object, attempt: int, base: float = 10) -> None:
    """A retry after base * 2^(attempt-1), give or take half (the jitter)."""
    assert isinstance(outcome, RetryIn)
    exponential = base * 2 ** (attempt - 1)
    assert 0.5 * exponential <= outcome.seconds <= 1.5 * exponential


# --- delivered -------------------------------------------------------------------------------


def test_a_queued_message_is_delivered(path: SendPath) -> None:
    job = _queued(path, to=[JOHN, JANE])
    deadline = Deadline.after(30)

    outcome = path.courier().process(job, deadline)

    assert outcome == Done(Status.SENT)
    sent = path.outbox.only_message
    assert sent.envelope.recipients == [JOHN, JANE]
    assert sent.deadline is deadline
    assert sent.header("Message-ID") == _record(path, job).message_id
    record = _record(path, job)
    assert (record.status, record.attempts, record.accepted, record.refused) == (
        Status.SENT,
        1,
        [JOHN, JANE],
        {},
    )
    assert (record.reply, record.reason, record.deferred) == (REPLY, None, {})
    assert (path.outbox.opened, path.outbox.closed) == (1, 1)
    assert path.limiter.calls == [("sliding", PROVIDER)]
    _provider_kept(path)
    assert path.services.lookups == ["email"]


def test_a_delivered_messages_record_keeps_the_providers_reply_and_id(path: SendPath) -> None:
    job = _queued(path)

    assert _process(path, job) == Done(Status.SENT)

    record = _record(path, job)
    assert (record.reply, record.provider_message_id) == (REPLY, PROVIDER_MESSAGE_ID)


def test_the_third_attempt_carries_the_same_message_as_the_first(path: SendPath) -> None:
    job = _queued(path)
    assert job.message is not None
    path.outbox.fail_next(
        SmtpDeferred("451 4.3.0 Try again later"), SmtpConnectFailed("Connection reset")
    )
    courier = path.courier()

    outcomes = []
    for _attempt in range(3):
        outcomes.append(courier.process(job, Deadline.after(30)))
        path.clock.advance(600)  # the worker's clock moves on; the message's Date does not

    _backoff(outcomes[0], 1)
    _backoff(outcomes[1], 2)
    assert outcomes[2] == Done(Status.SENT)
    first, second, third = path.outbox.handed
    assert path.outbox.messages == [third]
    for sent in (first, second, third):
        assert sent.header("Message-ID") == job.message.message_id
        assert sent.parsed()["Date"].datetime == job.message.date
        assert sent.envelope.recipients == [JOHN]
    assert first.raw == second.raw == third.raw
    record = _record(path, job)
    assert (record.status, record.attempts, record.accepted) == (Status.SENT, 3, [JOHN])
    assert (record.reason, record.reply, record.may_have_gone) == (None, REPLY, False)
    assert path.services.lookups == ["email"] * 3  # once per attempt
    assert (path.outbox.opened, path.outbox.closed) == (3, 3)
    _provider_kept(path, attempts=3)


def test_a_staged_message_is_delivered_and_its_copy_dropped(path: SendPath) -> None:
    queued = _queued(path)
    assert queued.message is not None
    path.queue.staged["staged/big.json"] = queued.message
    job = queued.model_copy(update={"message": None, "staged_message": "staged/big.json"})

    assert _process(path, job) == Done(Status.SENT)

    assert path.outbox.only_message.header("Message-ID") == queued.message.message_id
    assert path.queue.discarded == ["staged/big.json"]
    assert path.queue.staged == {}


def test_a_job_queued_by_an_earlier_version_is_composed_with_its_message_id(
    path: SendPath,
) -> None:
    queued = _queued(path)
    record = _record(path, queued)
    legacy = Job(
        id=queued.id,
        service="email",
        key_id=KEY,
        request={"to": JOHN, "subject": "Old", "body_text": "From before"},
        message_id=record.message_id,
    )

    assert _process(path, legacy) == Done(Status.SENT)

    sent = path.outbox.only_message
    assert sent.header("Message-ID") == record.message_id
    assert (sent.header("Subject"), sent.header("To")) == ("Old", JOHN)
    assert sent.envelope.recipients == [JOHN]
    assert _record(path, queued).status is Status.SENT


# --- transient and permanent failures ------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        SmtpDeferred("451 4.3.0 Try again later"),
        SmtpConnectFailed("Connection refused"),
        SmtpTimeout("No answer in time"),
    ],
    ids=["4xx", "connect", "timeout"],
)
def test_a_transient_failure_is_retried_with_backoff(path: SendPath, failure: SmtpFailure) -> None:
    job = _queued(path)
    path.outbox.fail_next(failure)

    outcome = _process(path, job)

    _backoff(outcome, 1)
    record = _record(path, job)
    assert (record.status, record.attempts, record.reason, record.reply) == (
        Status.DEFERRED,
        1,
        failure.reason,
        failure.message,
    )
    assert len(path.outbox.handed) == 1
    assert path.outbox.messages == []
    assert (path.outbox.opened, path.outbox.closed) == (1, 1)
    _provider_kept(path)
    assert path.queue.discarded == []


def test_a_transient_failure_on_the_last_attempt_fails_it(path: SendPath) -> None:
    job = _queued(path)
    path.outbox.fail_next(SmtpTimeout("No answer"), SmtpDeferred("421 4.7.0 Too busy"))
    courier = path.courier(max_attempts=2)

    first = courier.process(job, Deadline.after(30))
    last = courier.process(job, Deadline.after(30))

    _backoff(first, 1)
    assert last == Done(Status.FAILED)
    record = _record(path, job)
    assert (record.status, record.attempts, record.reason, record.reply) == (
        Status.FAILED,
        2,
        "retries_exhausted",
        "421 4.7.0 Too busy",
    )
    assert len(path.outbox.handed) == 2
    assert path.outbox.messages == []
    _provider_kept(path, attempts=2)


def test_a_permanent_failure_fails_it_at_once(path: SendPath) -> None:
    job = _queued(path)
    path.outbox.fail_next(SmtpRejected("554 5.7.1 Relay access denied"))

    assert _process(path, job) == Done(Status.FAILED)

    record = _record(path, job)
    assert (record.status, record.attempts, record.reason, record.reply) == (
        Status.FAILED,
        1,
        "smtp_rejected",
        "554 5.7.1 Relay access denied",
    )
    assert len(path.outbox.handed) == 1
    assert path.outbox.messages == []
    _provider_kept(path)


def test_every_recipient_refused_fails_it(path: SendPath) -> None:
    job = _queued(path)
    path.outbox.refuse = {JOHN: "550 5.1.1 No such user"}

    assert _process(path, job) == Done(Status.FAILED)

    record = _record(path, job)
    assert (record.status, record.reason) == (Status.FAILED, "smtp_rejected")
    assert record.reply is not None
    assert "550 5.1.1 No such user" in record.reply
    assert path.outbox.messages == []


def test_every_recipient_deferred_is_retried(path: SendPath) -> None:
    job = _queued(path)
    path.outbox.defer = {JOHN: "452 4.2.2 Mailbox full"}

    outcome = _process(path, job)

    _backoff(outcome, 1)
    record = _record(path, job)
    assert (record.status, record.reason) == (Status.DEFERRED, "smtp_deferred")
    assert path.outbox.messages == []


# --- an unknown outcome after the final dot ----------------------------------------------------


def test_an_unknown_outcome_is_held_by_default(path: SendPath) -> None:
    job = _queued(path)
    path.outbox.fail_next(SmtpOutcomeUnknown("Connection closed after the final dot"))

    assert _process(path, job) == Done(Status.UNKNOWN)

    record = _record(path, job)
    assert (record.status, record.attempts, record.reason, record.reply) == (
        Status.UNKNOWN,
        1,
        "smtp_outcome_unknown",
        "Connection closed after the final dot",
    )
    assert len(path.outbox.handed) == 1
    _provider_kept(path)


@pytest.fixture
def retrying(path: SendPath) -> SendPath:
    path.services.add(smtp_service(unknown_outcome="retry"))
    return path


def test_an_unknown_outcome_is_resent_when_the_service_asks(retrying: SendPath) -> None:
    job = _queued(retrying)
    retrying.outbox.fail_next(SmtpOutcomeUnknown("Connection closed after the final dot"))
    courier = retrying.courier()

    first = courier.process(job, Deadline.after(30))
    deferred = _record(retrying, job)
    last = courier.process(job, Deadline.after(30))

    _backoff(first, 1)
    assert (deferred.status, deferred.reason, deferred.may_have_gone) == (
        Status.DEFERRED,
        "smtp_outcome_unknown",
        True,
    )
    assert last == Done(Status.SENT)
    record = _record(retrying, job)
    assert (record.status, record.attempts, record.accepted) == (Status.SENT, 2, [JOHN])
    assert len(retrying.outbox.handed) == 2
    assert retrying.outbox.handed[0].raw == retrying.outbox.handed[1].raw


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        (SmtpRejected("554 5.7.1 Rejected"), "smtp_rejected"),
        (SmtpOutcomeUnknown("Connection closed after the final dot"), "smtp_outcome_unknown"),
        (SmtpTimeout("No answer"), "retries_exhausted"),
    ],
    ids=["then-rejected", "unknown-to-the-end", "then-out-of-attempts"],
)
def test_once_it_may_have_gone_it_is_never_failed(
    retrying: SendPath, later: SmtpRejected | SmtpOutcomeUnknown | SmtpTimeout, reason: str
) -> None:
    job = _queued(retrying)
    retrying.outbox.fail_next(SmtpOutcomeUnknown("Connection closed after the final dot"), later)
    courier = retrying.courier(max_attempts=2)

    courier.process(job, Deadline.after(30))
    outcome = courier.process(job, Deadline.after(30))

    assert outcome == Done(Status.UNKNOWN)
    record = _record(retrying, job)
    assert (record.status, record.attempts, record.reason, record.may_have_gone) == (
        Status.UNKNOWN,
        2,
        reason,
        True,
    )
    assert len(retrying.outbox.handed) == 2
    assert retrying.outbox.messages == []


# --- 452 for some recipients -------------------------------------------------------------------


def test_a_partial_deferral_retries_only_the_deferred_recipients(path: SendPath) -> None:
    job = _queued(path, to=[JOHN, JANE, GONE])
    path.outbox.defer = {JANE: "452 4.2.2 Mailbox full"}
    path.outbox.refuse = {GONE: "550 5.1.1 No such user"}
    courier = path.courier()

    first = courier.process(job, Deadline.after(30))
    deferred = _record(path, job)
    path.outbox.defer = {}
    last = courier.process(job, Deadline.after(30))

    _backoff(first, 1)
    assert (deferred.status, deferred.accepted, deferred.refused, deferred.deferred) == (
        Status.DEFERRED,
        [JOHN],
        {GONE: "550 5.1.1 No such user"},
        {JANE: "452 4.2.2 Mailbox full"},
    )
    assert deferred.reply == "452 4.2.2 Mailbox full"
    assert last == Done(Status.SENT)
    assert path.outbox.recipients() == [[JOHN, JANE, GONE], [JANE]]
    record = _record(path, job)
    assert (record.status, record.attempts, record.accepted, record.deferred) == (
        Status.SENT,
        2,
        [JOHN, JANE],
        {},
    )
    assert record.refused == {GONE: "550 5.1.1 No such user"}
    assert record.reason is None


def test_recipients_still_deferred_after_the_last_attempt_are_refused(path: SendPath) -> None:
    job = _queued(path, to=[JOHN, JANE])
    path.outbox.defer = {JANE: "452 4.2.2 Mailbox full"}

    assert _process(path, job, max_attempts=1) == Done(Status.SENT)

    record = _record(path, job)
    assert (record.accepted, record.refused, record.deferred) == (
        [JOHN],
        {JANE: "452 4.2.2 Mailbox full"},
        {},
    )


# --- duplicates and leases ----------------------------------------------------------------------


def test_a_duplicate_delivery_of_a_settled_job_does_nothing(path: SendPath) -> None:
    job = _queued(path)
    courier = path.courier()
    courier.process(job, Deadline.after(30))
    path.services.lookups.clear()
    path.limiter.calls.clear()

    assert courier.process(job, Deadline.after(30)) == Done(Status.SENT)

    assert len(path.outbox.handed) == 1
    assert _record(path, job).attempts == 1
    assert path.services.lookups == []
    assert path.limiter.calls == []


def test_a_copy_of_a_job_someone_is_sending_comes_back_after_their_lease(
    path: SendPath,
) -> None:
    job = _queued(path)
    path.records.claim(job.id, 60)  # another worker has it
    path.clock.advance(15)

    assert _process(path, job, lease_seconds=60) == RetryIn(45)

    record = _record(path, job)
    assert (record.status, record.attempts) == (Status.SENDING, 1)
    _nothing_sent(path)
    _provider_given_back(path)


def test_a_lapsed_lease_is_settled_unknown_not_resent(path: SendPath) -> None:
    job = _queued(path)
    path.records.claim(job.id, 60)  # a worker that then died mid-send
    path.clock.advance(61)

    assert _process(path, job) == Done(Status.UNKNOWN)

    record = _record(path, job)
    assert (record.status, record.reason, record.attempts) == (
        Status.UNKNOWN,
        "worker_interrupted",
        1,
    )
    _nothing_sent(path)
    _provider_given_back(path)


def test_a_message_the_caller_cancelled_is_not_sent(path: SendPath) -> None:
    job = _queued(path)
    path.records.cancel(job.id)

    assert _process(path, job) == Done(Status.CANCELLED)

    assert _record(path, job).attempts == 0
    _nothing_sent(path)
    assert path.limiter.calls == []


def test_a_job_without_a_record_is_dropped(path: SendPath) -> None:
    job = _queued(path).model_copy(update={"id": "not-ours"})

    assert _process(path, job) == Done(None)

    _nothing_sent(path)
    assert path.services.lookups == []


# --- the sender as it stands now ---------------------------------------------------------------


def test_a_revoked_key_cancels_the_message(path: SendPath) -> None:
    queued = _queued(path)
    assert queued.message is not None
    path.queue.staged["staged/big.json"] = queued.message
    job = queued.model_copy(update={"message": None, "staged_message": "staged/big.json"})
    del path.keys[KEY]

    assert _process(path, job) == Done(Status.CANCELLED)

    record = _record(path, job)
    assert (record.status, record.reason, record.attempts) == (
        Status.CANCELLED,
        "key_revoked",
        1,
    )
    _nothing_sent(path)
    _provider_given_back(path)
    assert path.queue.discarded == ["staged/big.json"]


@pytest.mark.parametrize(
    "now",
    [
        pytest.param({"services": ["bulk"]}, id="service"),
        pytest.param({"senders": ["billing@example.com"]}, id="sender"),
        pytest.param({"max_recipients": 1}, id="recipients"),
        pytest.param({"templates": ["*"]}, id="now-limited-to-templates"),
    ],
)
def test_a_role_that_no_longer_allows_it_cancels_the_message(
    path: SendPath, now: dict[str, Any]
) -> None:
    job = _queued(path, cc=JANE)
    path.keys[KEY] = Principal(KEY, ROLE.model_copy(update=now))

    assert _process(path, job) == Done(Status.CANCELLED)

    record = _record(path, job)
    assert (record.status, record.reason, record.attempts) == (
        Status.CANCELLED,
        "role_forbids",
        1,
    )
    _nothing_sent(path)
    _provider_given_back(path)


@pytest.mark.parametrize(
    ("sent_with", "allowed_now", "status"),
    [
        ("welcome", ["welcome"], Status.SENT),
        ("welcome", ["*"], Status.SENT),
        ("welcome", ["receipt"], Status.CANCELLED),
        (None, ["welcome"], Status.CANCELLED),
        (None, None, Status.SENT),
    ],
)
def test_the_template_a_job_was_sent_with_is_held_to_the_role_now(
    path: SendPath, sent_with: str | None, allowed_now: list[str] | None, status: Status
) -> None:
    """The job carries its template; the role's lock as it is at send time decides."""
    job = _queued(path).model_copy(update={"template": sent_with})
    path.keys[KEY] = Principal(KEY, ROLE.model_copy(update={"templates": allowed_now}))

    assert _process(path, job) == Done(status)
    assert _record(path, job).reason == (None if status is Status.SENT else "role_forbids")


def test_a_deleted_service_fails_the_message(path: SendPath) -> None:
    job = _queued(path)
    path.services.remove("email")

    assert _process(path, job) == Done(Status.FAILED)

    record = _record(path, job)
    assert (record.status, record.reason, record.attempts) == (
        Status.FAILED,
        "service_not_found",
        1,
    )
    assert record.reply == "Service 'email' not found."
    _nothing_sent(path)
    assert path.limiter.calls == []  # no service, no provider to pace to
    assert path.services.lookups == ["email"]


def test_a_revoked_key_wins_over_a_deleted_service(path: SendPath) -> None:
    job = _queued(path)
    path.services.remove("email")
    del path.keys[KEY]

    assert _process(path, job) == Done(Status.CANCELLED)

    assert _record(path, job).reason == "key_revoked"


def test_a_service_ceiling_lowered_since_fails_the_message(path: SendPath) -> None:
    job = _queued(path, cc=JANE)
    path.services.add(smtp_service(max_recipients=1))

    assert _process(path, job) == Done(Status.FAILED)

    record = _record(path, job)
    assert (record.status, record.reason) == (Status.FAILED, "too_many_recipients")
    _nothing_sent(path)
    _provider_given_back(path)


# --- not an attempt: pace, schedule, time left ---------------------------------------------------


def test_the_providers_pace_hops_the_job_without_an_attempt(path: SendPath) -> None:
    job = _queued(path)
    path.limiter.refuse(PROVIDER, retry_after=7)

    assert _process(path, job) == Hop(7)

    record = _record(path, job)
    assert (record.status, record.attempts) == (Status.QUEUED, 0)
    _nothing_sent(path)
    assert path.limiter.taken == {}
    assert path.services.lookups == ["email"]


def test_a_long_pace_hops_at_most_as_far_as_sqs_delays(path: SendPath) -> None:
    job = _queued(path)
    path.limiter.refuse(PROVIDER, retry_after=3_600)

    assert _process(path, job) == Hop(MAX_DELAY_SECONDS)


def _paced(path: SendPath) -> None:
    path.services.add(smtp_service(max_send_rate=5))


def test_a_paced_services_unit_is_taken_at_the_handover_not_before(
    path: SendPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    _paced(path)
    job = _queued(path)
    seen: list[tuple[Status, int]] = []  # the record's state and the sends, at the take
    take = path.limiter.consume_sliding

    def consume_sliding(subject: str, limits: Any) -> Any:
        seen.append((_record(path, job).status, len(path.outbox.handed)))
        return take(subject, limits)

    monkeypatch.setattr(path.limiter, "consume_sliding", consume_sliding)
    assert _process(path, job) == Done(Status.SENT)

    # Claimed, checked, and then (the fake transport has no handover of its own) just
    # before its send.
    assert seen == [(Status.SENDING, 0)]
    _provider_kept(path)


def test_a_paced_service_whose_window_would_keep_it_long_hops_without_an_attempt(
    path: SendPath,
) -> None:
    _paced(path)
    job = _queued(path)
    path.limiter.refuse(PROVIDER, retry_after=7)

    assert _process(path, job) == Hop(7)

    assert (_record(path, job).status, _record(path, job).attempts) == (Status.QUEUED, 0)
    _nothing_sent(path)
    assert path.limiter.calls == []  # looked at, nothing taken


def test_a_handover_the_pace_holds_past_its_wait_sends_nothing_and_comes_back(
    path: SendPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window filled up between the look at pick-up and the handover (other workers).
    _paced(path)
    job = _queued(path)
    monkeypatch.setattr(path.limiter, "sliding_wait", lambda *_: 0.0)
    path.limiter.refuse(PROVIDER, retry_after=60)

    outcome = _process(path, job)

    assert isinstance(outcome, RetryIn)
    record = _record(path, job)
    assert (record.status, record.reason) == (Status.DEFERRED, "provider_pace")
    assert path.outbox.handed == []
    assert path.limiter.taken == {}


def test_too_little_time_left_hands_the_job_to_the_next_invocation(path: SendPath) -> None:
    job = _queued(path)

    outcome = path.courier(min_seconds_to_start=5).process(job, Deadline.after(1))

    assert outcome == Hop(0)
    assert (_record(path, job).status, _record(path, job).attempts) == (Status.QUEUED, 0)
    _nothing_sent(path)
    assert path.services.lookups == []
    assert path.limiter.calls == []


def test_a_scheduled_message_waits_for_its_time(path: SendPath) -> None:
    send_at = path.clock.now() + timedelta(hours=2)
    job = _queued(path, send_at=send_at.isoformat())
    courier = path.courier()

    far = courier.process(job, Deadline.after(30))
    path.clock.at = send_at - timedelta(seconds=30)
    near = courier.process(job, Deadline.after(30))
    path.clock.at = send_at
    due = courier.process(job, Deadline.after(30))

    assert (far, near, due) == (Hop(MAX_DELAY_SECONDS), Hop(30), Done(Status.SENT))
    assert len(path.outbox.handed) == 1
    assert path.services.lookups == ["email"]
    assert _record(path, job).attempts == 1


def test_process_takes_the_time_it_is_given(path: SendPath) -> None:
    send_at = path.clock.now() + timedelta(minutes=5)
    job = _queued(path, send_at=send_at.isoformat())

    outcome = path.courier().process(job, Deadline.after(30), now=send_at)

    assert outcome == Done(Status.SENT)


# --- a failure that is no SMTP failure -----------------------------------------------------------


class _UnreachableStore(FakeMessageQueue):
    def message_of(self, job: Job) -> Message:
        raise RuntimeError("S3 unavailable")


_secret_unreadable = UnbuildableTransports("Secrets Manager throttled the request")


@pytest.mark.parametrize("broken", ["credentials", "staged-message"])
def test_a_failure_before_any_smtp_exchange_does_not_strand_the_message(
    path: SendPath, broken: str
) -> None:
    job = _queued(path)
    transports: TransportFactory | None = None
    if broken == "credentials":
        transports = _secret_unreadable
    else:
        path.queue = _UnreachableStore(queued=path.queue.queued)

    with contextlib.suppress(RuntimeError):
        path.courier(transports).process(job, Deadline.after(30))

    # Nothing was handed over: the provider's unit comes back...
    _provider_given_back(path)
    assert path.outbox.handed == []
    # ...and a redelivery, once the lease is over, does not take the message for one a worker
    # died sending (`unknown`): nothing of it ever reached the server.
    path.clock.advance(3_600)
    path.queue = FakeMessageQueue()
    path.courier().process(job, Deadline.after(30))
    assert _record(path, job).reason != "worker_interrupted"


# --- a batch -------------------------------------------------------------------------------------


def _one_connection(path: SendPath) -> None:
    """The service sends a batch on one connection (one lane): each message announces the
    next. Lanes: tests/integration/test_worker_lanes.py."""
    path.services.add(smtp_service(max_connections=1))


def _batch(path: SendPath, jobs: list[Job]) -> list[Done | RetryIn | Hop | Crashed]:
    return list(path.courier().process_each(jobs, lambda: Deadline.after(30)))


def _outgoing(sent: SentMessage) -> Outgoing:
    return Outgoing(sent.raw, sent.envelope)


def test_each_message_of_a_batch_names_the_next_one_for_its_service(path: SendPath) -> None:
    _one_connection(path)
    jobs = [_queued(path, subject=f"Message {n}", to=[JOHN, JANE]) for n in range(3)]

    outcomes = _batch(path, jobs)

    assert outcomes == [Done(Status.SENT)] * 3
    first, second, third = path.outbox.handed
    assert [sent.header("Subject") for sent in (first, second, third)] == [
        "Message 0",
        "Message 1",
        "Message 2",
    ]
    assert (first.then, second.then, third.then) == (_outgoing(second), _outgoing(third), None)
    assert [_record(path, job).status for job in jobs] == [Status.SENT] * 3


def test_the_next_message_is_announced_but_claimed_only_at_its_turn(path: SendPath) -> None:
    _one_connection(path)
    first, second = (_queued(path, subject=f"Message {n}") for n in range(2))

    outcomes = path.courier().process_each([first, second], lambda: Deadline.after(30))
    assert next(outcomes) == Done(Status.SENT)

    # The first one went, naming the second; which is still waiting, unclaimed: had the
    # worker died here, SQS would hand it over again as it was.
    assert path.outbox.only_message.then is not None
    assert (_record(path, second).status, _record(path, second).attempts) == (Status.QUEUED, 0)
    assert list(outcomes) == [Done(Status.SENT)]
    assert _outgoing(path.outbox.handed[1]) == path.outbox.handed[0].then


def test_a_message_announced_that_may_no_longer_go_is_cancelled_at_its_turn(
    path: SendPath,
) -> None:
    _one_connection(path)
    path.keys["key-2"] = Principal("key-2", ROLE)
    first = _queued(path, subject="One")
    request = parse_send_request({"to": JOHN, "subject": "Two", "body_text": "Hi"})
    path.mailer().accept(path.keys["key-2"], "email", request)
    revoked = path.queue.queued[-1].job
    third = _queued(path, subject="Three")
    del path.keys["key-2"]

    outcomes = _batch(path, [first, revoked, third])

    # In the jobs' order, whatever was looked at ahead of what.
    assert outcomes == [Done(Status.SENT), Done(Status.CANCELLED), Done(Status.SENT)]
    sent_first, sent_third = path.outbox.handed
    # The first named the second (the transport then meets the third instead, and starts a
    # new session: nothing of the second was ever written but its envelope).
    assert sent_first.then is not None
    assert b"Subject: Two" in sent_first.then.message
    assert sent_third.then is None


def test_each_service_of_a_batch_has_its_own_lane(path: SendPath) -> None:
    _one_connection(path)
    path.services.add(smtp_service("bulk", max_connections=1))
    path.keys[KEY] = Principal(KEY, ROLE.model_copy(update={"services": ["email", "bulk"]}))
    jobs = [
        _queued(path, service=name, subject=f"{name} {n}")
        for n, name in enumerate(("email", "bulk", "bulk", "email"))
    ]

    outcomes = _batch(path, jobs)

    assert outcomes == [Done(Status.SENT)] * 4
    # A message announces the next one of its own service, never another service's.
    for name, (first, second) in (("email", (0, 3)), ("bulk", (1, 2))):
        sent = [m for m in path.outbox.handed if m.service.name == name]
        subjects = [m.header("Subject") for m in sent]
        assert subjects == [f"{name} {first}", f"{name} {second}"]
        assert [m.then for m in sent] == [_outgoing(sent[1]), None]


def test_a_message_of_the_batch_refused_does_not_hold_up_the_next(path: SendPath) -> None:
    _one_connection(path)
    jobs = [_queued(path, subject=f"Message {n}") for n in range(2)]
    path.outbox.fail_next(SmtpRejected("554 5.7.1 Spam", context={"stage": "end_of_data"}))

    outcomes = _batch(path, jobs)

    assert outcomes == [Done(Status.FAILED), Done(Status.SENT)]
    refused, delivered = path.outbox.handed
    assert refused.then == _outgoing(delivered)
    assert path.outbox.messages == [delivered]


def test_a_job_whose_store_fails_comes_back_alone(
    path: SendPath, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [_queued(path, subject=f"Message {n}") for n in range(3)]
    claim = path.records.claim
    outage = ConnectionError("DynamoDB did not answer")

    def claim_but_the_second(
        record_id: str, lease_seconds: int, *, at: datetime | None = None
    ) -> MessageRecord | None:
        if record_id == jobs[1].id:
            raise outage
        return claim(record_id, lease_seconds, at=at)

    monkeypatch.setattr(path.records, "claim", claim_but_the_second)

    outcomes = _batch(path, jobs)

    assert outcomes == [Done(Status.SENT), Crashed(outage), Done(Status.SENT)]
    assert [sent.header("Subject") for sent in path.outbox.messages] == ["Message 0", "Message 2"]
    assert _record(path, jobs[1]).status is Status.QUEUED  # untouched: SQS brings it back


class _RecordingSlots(ConnectionSlots):
    """Every slot free; what each take asked for, recorded (no table). Its waits pass at
    once, on a clock of their own."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(cast(ItemTable, None), clock=lambda: self.now, sleep=self._pass)
        self.taken: list[tuple[str, int, int]] = []
        self.freed: list[str] = []

    def _pass(self, seconds: float) -> None:
        self.now += seconds

    def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
        self.taken.append((service, wanted, limit))
        return HeldSlots(service, tuple(range(wanted)), self._free)

    def _free(self, held: HeldSlots) -> None:
        self.freed.append(held.service)


def test_a_batchs_connection_slots_are_taken_for_its_lanes_and_freed_at_its_end(
    path: SendPath,
) -> None:
    jobs = [_queued(path, subject=f"Message {n}") for n in range(6)]
    slots = _RecordingSlots()

    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(30))
    )

    assert outcomes == [Done(Status.SENT)] * 6
    assert slots.taken == [("email", 4, 4)]  # the default max_connections, 4 lanes
    assert slots.freed == ["email"]
    assert path.outbox.open_connections == 0  # closed before the slots were freed


class _SlotsAllTaken(_RecordingSlots):
    """Every slot held by another worker, until `free_after` seconds have passed."""

    def __init__(self, free_after: float = math.inf) -> None:
        super().__init__()
        self.free_after = free_after

    def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
        self.taken.append((service, wanted, limit))
        indexes = tuple(range(wanted)) if self.now >= self.free_after else ()
        return HeldSlots(service, indexes, self._free)


def test_jobs_without_a_connection_slot_come_back_as_themselves_untouched(
    path: SendPath,
) -> None:
    # Their own SQS messages come back: no fresh copy, so a worker killed meanwhile leaves
    # nothing the repair can no longer see, and the records stay as they were.
    jobs = [_queued(path, subject=f"Message {n}") for n in range(3)]
    before = [_record(path, job) for job in jobs]
    slots = _SlotsAllTaken()

    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(30))
    )

    assert outcomes == [RetryIn(5)] * 3
    assert [_record(path, job) for job in jobs] == before
    assert path.outbox.messages == []
    # It waited for a slot first: looked again and again, backing off, for PATIENCE_SECONDS
    # (less the time a message needs to start after it).
    assert len(slots.taken) > 5
    assert PATIENCE_SECONDS - 2 < slots.now <= PATIENCE_SECONDS


def test_a_batch_with_nothing_else_to_send_waits_for_a_slot_to_come_free(
    path: SendPath,
) -> None:
    # Another worker's batch ends two seconds in: this one sends then, rather than letting its
    # jobs come back seconds later, together with every other worker that lost the race.
    jobs = [_queued(path, subject=f"Message {n}") for n in range(3)]
    slots = _SlotsAllTaken(free_after=2)

    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(30))
    )

    assert outcomes == [Done(Status.SENT)] * 3
    assert 2 <= slots.now < 2 + LONGEST_LOOK_SECONDS


def test_a_batch_waits_for_a_slot_no_longer_than_its_invocation_allows(
    path: SendPath,
) -> None:
    jobs = [_queued(path, subject="Message")]
    slots = _SlotsAllTaken()

    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(0.3))
    )

    assert outcomes == [RetryIn(5)]
    assert slots.now <= 0.3


def test_a_service_without_a_slot_does_not_hold_up_the_batchs_others(path: SendPath) -> None:
    # The batch has something to send: the jobs of the service whose slots are all held come
    # back at once (no wait), and the other service's go out.
    path.services.add(smtp_service("bulk"))
    path.keys[KEY] = Principal(KEY, ROLE.model_copy(update={"services": ["email", "bulk"]}))
    jobs = [_queued(path, subject="Mine"), _queued(path, service="bulk", subject="Other")]

    class _FirstServiceFull(_RecordingSlots):
        def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
            self.taken.append((service, wanted, limit))
            return HeldSlots(service, () if service == "email" else (0,), self._free)

    slots = _FirstServiceFull()
    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(30))
    )

    assert outcomes == [RetryIn(5), Done(Status.SENT)]
    assert slots.now == 0


def test_a_batch_waits_for_a_slot_while_its_invocation_has_time_beyond_one_sends_deadline(
    path: SendPath,
) -> None:
    # Each step's deadline is the SMTP timeout (here 5 s); the invocation may have minutes left.
    jobs = [_queued(path, subject="Message")]
    slots = _SlotsAllTaken(free_after=7)

    outcomes = list(
        path.courier(connection_slots=slots).process_each(
            jobs, lambda: Deadline.after(5), answer_by=Deadline.after(100)
        )
    )

    assert outcomes == [Done(Status.SENT)]
    assert 7 <= slots.now < 7 + LONGEST_LOOK_SECONDS


class _SlotStoreDown(_SlotsAllTaken):
    """Every slot held by another worker; from look `fails_at` (counted from 1) on, the store
    does not answer."""

    def __init__(self, fails_at: int) -> None:
        super().__init__()
        self.fails_at = fails_at
        self.outage = ConnectionError("DynamoDB did not answer")

    def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
        if len(self.taken) + 1 >= self.fails_at:
            raise self.outage
        return super().take(service, wanted, limit=limit)


@pytest.mark.parametrize("fails_at", [1, 4], ids=["at-the-first-look", "while-waiting"])
def test_jobs_whose_connection_slots_cannot_be_taken_crash_untouched(
    path: SendPath, fails_at: int
) -> None:
    # Crashed: the worker leaves their SQS messages alone, and SQS brings them back.
    jobs = [_queued(path, subject=f"Message {n}") for n in range(3)]
    before = [_record(path, job) for job in jobs]
    slots = _SlotStoreDown(fails_at)

    outcomes = list(
        path.courier(connection_slots=slots).process_each(jobs, lambda: Deadline.after(30))
    )

    assert outcomes == [Crashed(slots.outage)] * 3
    assert [_record(path, job) for job in jobs] == before
    assert path.outbox.messages == []
    assert len(slots.taken) == fails_at - 1  # it stopped looking at the failure


def test_slots_taken_in_a_look_the_store_fails_part_way_through_are_freed() -> None:
    class _SecondServiceDown(_RecordingSlots):
        def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
            if service == "bulk":
                raise ConnectionError("DynamoDB did not answer")
            return super().take(service, wanted, limit=limit)

    slots = _SecondServiceDown()

    with pytest.raises(ConnectionError):
        slots.take_any([Wanted("email", 2, 4), Wanted("bulk", 1, 4)], patience=10)

    assert slots.freed == ["email"]
