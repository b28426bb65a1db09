"""The unit tests' fakes keep the rules of what they stand in for: a fake that is laxer than
the real thing would let a unit test pass that the stack fails."""

from __future__ import annotations

from typing import Any

import pytest

from core.access.model import RateLimits
from core.delivery.message_record import MessageRecord, Status
from core.errors import Conflict, NotFound, RateLimited
from core.transport.base import Deadline, Envelope
from core.transport.smtp.errors import SmtpDeferred, SmtpRejected
from tests.support.fake_clock import FakeClock
from tests.support.fake_delivery import FakeMessageRepository
from tests.support.fake_limiter import FakeLimiter
from tests.support.fake_services import smtp_service
from tests.support.outbox import Outbox


def _repository(status: Status = Status.QUEUED) -> FakeMessageRepository:
    records = FakeMessageRepository(clock=FakeClock())
    records.create(
        MessageRecord(id="m1", service="email", key_id="k", message_id="<m@x>", status=status)
    )
    return records


# --- records -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"smtp_replies": "250 ok"}, "MessageRecord has no field 'smtp_replies'"),
        ({"attempts": 0}, "Settling a message cannot change its 'attempts'"),
        ({"id": "other"}, "Settling a message cannot change its 'id'"),
    ],
)
def test_settle_refuses_a_change_it_does_not_know(changes: dict[str, Any], message: str) -> None:
    records = _repository()
    records.claim("m1", 60)

    with pytest.raises(TypeError, match=message):
        records.settle("m1", Status.SENT, **changes)

    assert records.get("m1").status is Status.SENDING


def test_only_a_message_being_sent_can_be_settled() -> None:
    with pytest.raises(Conflict) as raised:
        _repository().settle("m1", Status.SENT)

    assert raised.value.reason == "message_state"


@pytest.mark.parametrize("status", [Status.SCHEDULED, Status.QUEUED, Status.DEFERRED])
def test_a_waiting_message_is_claimed_once(status: Status) -> None:
    records = _repository(status)

    claimed = records.claim("m1", 60)

    assert claimed is not None
    assert (claimed.status, claimed.attempts) == (Status.SENDING, 1)
    assert claimed.lease_until == int(records.clock.now().timestamp()) + 60
    assert records.claim("m1", 60) is None


def test_a_lease_expires_only_once_it_has_lapsed() -> None:
    records = _repository()
    records.claim("m1", 60)
    clock = records.clock
    assert isinstance(clock, FakeClock)

    assert records.expire_lease("m1") is None
    clock.advance(61)
    expired = records.expire_lease("m1")

    assert expired is not None
    assert (expired.status, expired.reason) == (Status.UNKNOWN, "worker_interrupted")


def test_only_a_scheduled_or_queued_message_can_be_cancelled() -> None:
    records = _repository()
    assert records.cancel("m1").status is Status.CANCELLED

    with pytest.raises(Conflict) as raised:
        records.cancel("m1")

    assert (raised.value.reason, raised.value.context) == (
        "not_cancellable",
        {"status": "cancelled"},
    )


def test_replies_are_cut_as_the_real_store_cuts_them() -> None:
    records = _repository()
    records.claim("m1", 60)

    settled = records.settle(
        "m1", Status.DEFERRED, reply="4" * 400, deferred={"a@example.com": "4" * 400}
    )

    assert settled.reply == "4" * 300
    assert settled.deferred == {"a@example.com": "4" * 300}


def test_an_unknown_record() -> None:
    with pytest.raises(NotFound):
        _repository().get("other")


# --- the outbox --------------------------------------------------------------------------------


def test_the_outbox_opens_on_the_first_send_and_closes_once() -> None:
    outbox = Outbox()

    with outbox(smtp_service()) as transport:
        transport.send(b"one", Envelope("a@example.com", ["b@example.com"]), Deadline.after(5))
        transport.send(b"two", Envelope("a@example.com", ["b@example.com"]), Deadline.after(5))

    assert (outbox.opened, outbox.closed) == (1, 1)
    assert [sent.raw for sent in outbox.messages] == [b"one", b"two"]


def test_a_failed_send_is_handed_over_but_not_taken_and_closes_the_connection() -> None:
    outbox = Outbox()
    outbox.fail_next(SmtpDeferred("451 later"))
    transport = outbox(smtp_service())

    with pytest.raises(SmtpDeferred):
        transport.send(b"one", Envelope("a@example.com", ["b@example.com"]), Deadline.after(5))
    transport.send(b"two", Envelope("a@example.com", ["b@example.com"]), Deadline.after(5))
    transport.close()

    assert [sent.raw for sent in outbox.handed] == [b"one", b"two"]
    assert [sent.raw for sent in outbox.messages] == [b"two"]
    assert (outbox.opened, outbox.closed) == (2, 2)


def test_nobody_accepted_raises_as_the_smtp_transport_does() -> None:
    outbox = Outbox(refuse={"a@example.com": "550 no"}, defer={"b@example.com": "452 full"})
    transport = outbox(smtp_service())

    with pytest.raises(SmtpRejected) as refused:
        transport.send(b"x", Envelope("s@example.com", ["a@example.com"]), Deadline.after(5))
    with pytest.raises(SmtpDeferred) as deferred:
        transport.send(
            b"x", Envelope("s@example.com", ["a@example.com", "b@example.com"]), Deadline.after(5)
        )

    assert refused.value.context == {"refused": {"a@example.com": "550 no"}}
    assert deferred.value.context == {
        "refused": {"a@example.com": "550 no"},
        "deferred": {"b@example.com": "452 full"},
    }
    assert deferred.value.transient
    assert outbox.messages == []


# --- the limiter -------------------------------------------------------------------------------


def test_a_reservation_is_given_back_once() -> None:
    limiter = FakeLimiter()
    reservation = limiter.consume("app", RateLimits(per_minute=5))

    reservation.release()
    reservation.release()

    assert (limiter.taken["app"], limiter.released["app"], limiter.held("app")) == (1, 1, 0)


def test_a_refused_subject_takes_nothing_until_allowed() -> None:
    limiter = FakeLimiter()
    limiter.refuse("app", retry_after=9)

    with pytest.raises(RateLimited) as raised:
        limiter.consume("app", RateLimits())
    assert raised.value.retry_after == 9
    limiter.allow("app")
    limiter.consume("app", RateLimits())

    assert limiter.taken["app"] == 1
