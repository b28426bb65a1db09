"""Message events from the send path (`RecordsWithEvents` under the real mailer and courier,
over fakes): one event per real change of a record, none from a move that loses (a duplicate
SQS delivery), and a held batch published once."""

from __future__ import annotations

from typing import Any

import pytest

from core.access.authentication import Principal
from core.access.model import Role
from core.delivery.attempt import Done, RetryIn
from core.delivery.job import Job
from core.delivery.message_record import ENQUEUE_FAILED, Status
from core.errors import Conflict
from core.message_events.model import MessageEventType as T
from core.send_request import parse_send_request
from core.suppression.model import Reason
from core.transport.base import Deadline
from core.transport.smtp.errors import SmtpDeferred, SmtpOutcomeUnknown, SmtpRejected
from tests.support.fake_services import smtp_service
from tests.support.outbox import PROVIDER_MESSAGE_ID
from tests.support.send_path import SendPath

KEY = "key-1"
ROLE = Role(name="app", services=["email"], senders=["*@example.com"])
JOHN, JANE, GONE = "john@example.com", "jane@example.com", "gone@example.com"


@pytest.fixture
def path() -> SendPath:
    path = SendPath()
    path.services.add(smtp_service())
    path.keys[KEY] = Principal(KEY, ROLE)
    return path


def _request(**body: Any) -> Any:
    return parse_send_request({"to": [JOHN, JANE], "subject": "Hi", "body_text": "Hi", **body})


def _queued(path: SendPath, **body: Any) -> Job:
    path.mailer().accept(path.keys[KEY], "email", _request(**body))
    return path.queue.queued[-1].job


def _attempt(path: SendPath, job: Job) -> Done | RetryIn | Any:
    return path.courier().process(job, Deadline.after(30))


def test_a_message_sent_now_is_accepted_then_sent_with_its_recipients() -> None:
    path = SendPath()
    path.services.add(smtp_service())
    path.keys[KEY] = Principal(KEY, ROLE)

    sent = path.mailer().send(
        path.keys[KEY],
        "email",
        _request(tags=["welcome"], metadata={"user": "u-42"}),
        Deadline.after(30),
    )

    assert path.events.types() == [(T.ACCEPTED, None), (T.SENT, None)]
    accepted, done = path.events.events
    assert {accepted.message_id, done.message_id} == {sent.id}
    assert accepted.service == done.service == "email"
    assert accepted.data["recipients"] == 2
    assert done.data["recipients"] == 2
    assert done.data["provider_message_id"] == PROVIDER_MESSAGE_ID
    assert done.data["tags"] == accepted.data["tags"] == ["welcome"]
    assert done.data["metadata"] == accepted.data["metadata"] == {"user": "u-42"}


def test_a_refused_message_sent_now_is_accepted_then_failed(path: SendPath) -> None:
    path.outbox.fail_next(SmtpRejected("554 5.7.1 Relay access denied"))

    with pytest.raises(SmtpRejected):
        path.mailer().send(path.keys[KEY], "email", _request(), Deadline.after(30))

    assert path.events.types() == [(T.ACCEPTED, None), (T.FAILED, None)]
    assert "554" in path.events.events[-1].data["reply"]


def test_a_queued_message_is_accepted_and_queued_and_names_who_the_list_kept_out(
    path: SendPath,
) -> None:
    path.suppressions().add(GONE, Reason.BOUNCE)

    _queued(path, to=[JOHN, GONE])

    assert path.events.types() == [(T.ACCEPTED, None), (T.QUEUED, None), (T.SUPPRESSED, GONE)]
    assert path.events.events[0].data["recipients"] == 1


def test_the_worker_sends_it_once_and_a_duplicate_delivery_says_nothing(path: SendPath) -> None:
    job = _queued(path)
    path.events.clear()

    assert _attempt(path, job) == Done(Status.SENT)
    assert _attempt(path, job) == Done(Status.SENT)  # SQS delivered the job twice

    assert path.events.types() == [(T.SENT, None)]
    assert path.events.events[0].data["attempts"] == 1


def test_a_deferral_then_a_send_each_say_so_once(path: SendPath) -> None:
    job = _queued(path)
    path.events.clear()
    path.outbox.fail_next(SmtpDeferred("421 4.7.0 Too busy"))

    assert isinstance(_attempt(path, job), RetryIn)
    assert _attempt(path, job) == Done(Status.SENT)

    assert path.events.types() == [(T.DEFERRED, None), (T.SENT, None)]
    deferred, sent = path.events.events
    assert deferred.data["reason"]
    assert "421" in deferred.data["reply"]
    assert sent.data["attempts"] == 2


def test_an_unknown_outcome_says_unknown(path: SendPath) -> None:
    job = _queued(path)
    path.events.clear()
    path.outbox.fail_next(SmtpOutcomeUnknown("Connection closed after the final dot"))

    _attempt(path, job)

    assert path.events.types() == [(T.UNKNOWN, None)]


def test_only_recipients_newly_suppressed_at_an_attempt_are_named(path: SendPath) -> None:
    path.suppressions().add(GONE, Reason.BOUNCE)
    job = _queued(path, to=[JOHN, JANE, GONE])
    path.events.clear()
    path.suppressions().add(JANE, Reason.COMPLAINT)  # since the message was accepted

    assert _attempt(path, job) == Done(Status.SENT)

    assert path.events.types() == [(T.SENT, None), (T.SUPPRESSED, JANE)]
    assert path.events.events[0].data["recipients"] == 1


def test_a_revoked_key_cancels_the_message(path: SendPath) -> None:
    job = _queued(path)
    path.events.clear()
    del path.keys[KEY]

    assert _attempt(path, job) == Done(Status.CANCELLED)

    assert path.events.types() == [(T.CANCELLED, None)]
    assert path.events.events[0].data["reason"] == "key_revoked"


def test_a_lapsed_lease_is_settled_unknown_once(path: SendPath) -> None:
    job = _queued(path)
    path.records.claim(job.id, lease_seconds=60)  # a worker that died mid-send
    path.clock.advance(120)
    path.events.clear()

    assert _attempt(path, job) == Done(Status.UNKNOWN)
    assert _attempt(path, job) == Done(Status.UNKNOWN)

    assert path.events.types() == [(T.UNKNOWN, None)]
    assert path.events.events[0].data["reason"] == "worker_interrupted"


def test_abandon_and_cancel_say_so_when_they_win(path: SendPath) -> None:
    first, second = _queued(path), _queued(path)
    path.events.clear()

    path.message_records.abandon(first.id, ENQUEUE_FAILED)
    path.message_records.abandon(first.id, ENQUEUE_FAILED)  # already settled: no move
    path.message_records.cancel(second.id)
    with pytest.raises(Conflict):
        path.message_records.cancel(second.id)

    assert path.events.types() == [(T.FAILED, None), (T.CANCELLED, None)]
    assert path.events.events[0].data["reason"] == ENQUEUE_FAILED


def test_a_settle_that_loses_says_nothing(path: SendPath) -> None:
    job = _queued(path)
    path.events.clear()

    with pytest.raises(Conflict):
        path.message_records.settle(job.id, Status.SENT)  # never claimed

    assert path.events.events == []


def test_events_held_are_published_together_once_even_when_it_ends_in_an_error(
    path: SendPath,
) -> None:
    jobs = [_queued(path), _queued(path)]
    path.events.clear()

    published_within: list[int] = []

    def invocation() -> None:
        with path.message_records.held():
            for job in jobs:
                with path.message_records.held():  # nested: the outer one publishes
                    _attempt(path, job)
            published_within.append(len(path.events.publishes))
            raise RuntimeError("the invocation died after its sends")

    with pytest.raises(RuntimeError):
        invocation()

    assert published_within == [0]

    assert [[event.type for event in batch] for batch in path.events.publishes] == [
        [T.SENT, T.SENT]
    ]
