"""Keeping a connection per service (`TransportPool`) and sending through it (`Deliverer`),
over the outbox: which connection each message went on, how many were opened and closed, and
that a message is resent only when the connection it met was dead before the final dot."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from core.composition.compose import compose
from core.delivery.deliver import Deliverer
from core.outbound import Sealed, seal
from core.send_request import parse_send_request
from core.services.model import Service
from core.transport.base import Deadline
from core.transport.pool import Lease, TransportPool
from core.transport.smtp.errors import (
    SmtpConnectFailed,
    SmtpDeferred,
    SmtpFailure,
    SmtpOutcomeUnknown,
    SmtpRejected,
    SmtpTimeout,
    SmtpTlsError,
)
from tests.support.fake_clock import START
from tests.support.fake_services import smtp_service
from tests.support.outbox import Outbox

JOHN = "john@example.com"


@dataclass
class Ticker:
    """A clock reading seconds, standing still until a test moves it."""

    seconds: float = 1000.0

    def __call__(self) -> float:
        return self.seconds


@dataclass
class Rig:
    outbox: Outbox
    clock: Ticker
    pool: TransportPool
    deliverer: Deliverer


def _rig(*, reuse: bool = True, idle_seconds: float = 8, max_messages: int = 100) -> Rig:
    outbox, clock = Outbox(), Ticker()
    pool = TransportPool(
        outbox,
        reuse=reuse,
        idle_seconds=idle_seconds,
        max_messages=max_messages,
        clocks=(clock,),
    )
    return Rig(outbox, clock, pool, Deliverer(pool))


@pytest.fixture
def rig() -> Rig:
    return _rig()


SERVICE = smtp_service(secret_id="email-api/services/email")


def _sealed(service: Service, subject: str = "Hi") -> Sealed:
    request = parse_send_request({"to": JOHN, "subject": subject, "body_text": "Hi"})
    return seal(compose(request, service, now=START, size_limit=100_000), max_bytes=100_000)


def _deliver(rig: Rig, service: Service = SERVICE, subject: str = "Hi") -> None:
    rig.deliverer.deliver(service, _sealed(service, subject), [JOHN], Deadline.after(30))


def _subjects(outbox: Outbox) -> list[str]:
    return [sent.header("Subject") for sent in outbox.messages]


def _at(
    stage: str, failure: type[SmtpFailure] = SmtpConnectFailed, **context: object
) -> SmtpFailure:
    return failure("lost", context={"host": "smtp.example.com", "stage": stage, **context})


def _dead(
    stage: str, failure: type[SmtpFailure] = SmtpConnectFailed, **context: object
) -> SmtpFailure:
    """A failure as the transport raises it for a kept connection found dead before the
    handover (which failures those are: tests/unit/test_smtp_classification.py)."""
    error = _at(stage, failure, **context)
    error.stale_connection = True
    return error


# --- reuse -----------------------------------------------------------------------------------


def test_messages_of_a_service_share_one_connection(rig: Rig) -> None:
    for subject in ("one", "two", "three"):
        _deliver(rig, subject=subject)

    assert _subjects(rig.outbox) == ["one", "two", "three"]
    assert rig.outbox.connections() == [1, 1, 1]
    assert (rig.outbox.opened, rig.outbox.closed) == (1, 0)
    assert rig.pool.idle_count() == 1
    rig.pool.close_all()
    assert rig.outbox.open_connections == 0
    assert rig.pool.idle_count() == 0


def test_each_service_has_a_connection_of_its_own(rig: Rig) -> None:
    other = smtp_service("other", host="smtp.other.example")

    for service in (SERVICE, other, SERVICE, other):
        _deliver(rig, service)

    assert rig.outbox.connections() == [1, 2, 1, 2]
    assert rig.outbox.open_connections == 2


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"secret_version": "v2"}, id="new-password"),
        pytest.param({"updated_at": "2026-03-02T09:31:00+00:00"}, id="updated"),
    ],
)
def test_a_changed_service_gets_a_new_connection_and_the_old_one_is_closed(
    rig: Rig, change: dict[str, str]
) -> None:
    _deliver(rig)
    changed = SERVICE.model_copy(update=change)

    _deliver(rig, changed)
    _deliver(rig, changed)

    assert rig.outbox.connections() == [1, 2, 2]
    assert (rig.outbox.opened, rig.outbox.closed) == (2, 1)


@pytest.mark.parametrize(
    "config",
    [{"host": "smtp2.example.com"}, {"port": 465, "encryption": "ssl"}, {"username": "other"}],
    ids=["host", "port", "username"],
)
def test_changed_connection_settings_get_a_new_connection(
    rig: Rig, config: dict[str, object]
) -> None:
    _deliver(rig)
    settings = SERVICE.config.model_validate({**SERVICE.config.model_dump(), **config})
    changed = SERVICE.model_copy(update={"config": settings})

    _deliver(rig, changed)

    assert rig.outbox.connections() == [1, 2]
    assert rig.outbox.open_connections == 1


def test_a_connection_idle_too_long_is_closed_not_reused(rig: Rig) -> None:
    _deliver(rig, subject="one")
    rig.clock.seconds += 8  # at the limit: still good
    _deliver(rig, subject="two")
    rig.clock.seconds += 8.5  # a Lambda frozen between invocations, say

    _deliver(rig, subject="three")

    assert rig.outbox.connections() == [1, 1, 2]
    assert (rig.outbox.opened, rig.outbox.closed) == (2, 1)


def test_idle_time_counts_on_whichever_clock_moved_further() -> None:
    outbox, steady, wall = Outbox(), Ticker(), Ticker()
    deliverer = Deliverer(TransportPool(outbox, clocks=(steady, wall)))
    deliverer.deliver(SERVICE, _sealed(SERVICE), [JOHN], Deadline.after(30))
    wall.seconds += 60  # the monotonic clock stood still while the VM was paused

    deliverer.deliver(SERVICE, _sealed(SERVICE), [JOHN], Deadline.after(30))

    assert outbox.connections() == [1, 2]


def test_a_connection_is_closed_after_its_message_cap() -> None:
    rig = _rig(max_messages=2)

    for subject in ("one", "two", "three", "four", "five"):
        _deliver(rig, subject=subject)

    assert rig.outbox.connections() == [1, 1, 2, 2, 3]
    assert (rig.outbox.opened, rig.outbox.closed) == (3, 2)


def test_without_reuse_every_message_has_a_connection_of_its_own() -> None:
    rig = _rig(reuse=False)

    for _ in range(3):
        _deliver(rig)

    assert rig.outbox.connections() == [1, 2, 3]
    assert rig.outbox.open_connections == 0
    assert rig.pool.idle_count() == 0


def test_a_bare_factory_means_no_reuse() -> None:
    outbox = Outbox()
    deliverer = Deliverer(outbox)

    for _ in range(2):
        deliverer.deliver(SERVICE, _sealed(SERVICE), [JOHN], Deadline.after(30))

    assert outbox.connections() == [1, 2]
    assert outbox.open_connections == 0


def test_a_busy_connection_means_a_one_off(rig: Rig) -> None:
    alone = smtp_service(secret_id="email-api/services/email", max_connections=1)
    _deliver(rig, alone, subject="one")
    lent = rig.pool.take(alone, Deadline.after(30))  # another sender holds it meanwhile
    assert lent.reused

    _deliver(rig, alone, subject="two")

    assert rig.outbox.connections() == [1, 2]
    assert (rig.outbox.opened, rig.outbox.closed) == (2, 1)  # the one-off is closed
    rig.pool.give_back(lent)
    _deliver(rig, alone, subject="three")
    assert rig.outbox.connections() == [1, 2, 1]


# --- several connections a service ------------------------------------------------------------


def _take_all(rig: Rig, service: Service, count: int) -> list[Lease]:
    return [rig.pool.take(service, Deadline.after(30)) for _ in range(count)]


def test_a_service_keeps_up_to_max_connections(rig: Rig) -> None:
    service = smtp_service(secret_id="email-api/services/email", max_connections=3)

    leases = _take_all(rig, service, 4)

    # Three are the pool's, the fourth a one-off: closed as it comes back.
    assert [lease.pooled for lease in leases] == [True, True, True, False]
    for lease in leases:
        rig.pool.give_back(lease)
    assert rig.pool.idle_count() == 3
    assert (rig.outbox.opened, rig.outbox.closed) == (4, 1)


def test_the_kept_connections_are_lent_again_at_once(rig: Rig) -> None:
    service = smtp_service(secret_id="email-api/services/email", max_connections=3)
    for lease in _take_all(rig, service, 3):
        rig.pool.give_back(lease)

    again = _take_all(rig, service, 3)

    assert [lease.reused for lease in again] == [True, True, True]
    assert len({id(lease.transport) for lease in again}) == 3
    assert (rig.outbox.opened, rig.outbox.closed) == (3, 0)
    assert rig.pool.idle_count() == 0


def test_a_lowered_limit_closes_the_connections_kept_beyond_it(rig: Rig) -> None:
    service = smtp_service(secret_id="email-api/services/email", max_connections=3)
    for lease in _take_all(rig, service, 3):
        rig.pool.give_back(lease)
    lowered = service.model_copy(
        update={"config": service.config.model_copy(update={"max_connections": 1})}
    )

    lease = rig.pool.take(lowered, Deadline.after(30))

    assert lease.reused
    assert (rig.outbox.opened, rig.outbox.closed) == (3, 2)
    assert not rig.pool.take(lowered, Deadline.after(30)).pooled  # one lent: the limit


def test_each_thread_gets_back_the_connection_it_gave_back(rig: Rig) -> None:
    # The worker's lanes: each may have announced its next message on its own connection.
    service = smtp_service(secret_id="email-api/services/email", max_connections=2)
    both_took = threading.Barrier(2)
    b_gave_back, a_gave_back, b_took_again = (threading.Event() for _ in range(3))
    lent: dict[str, list[Lease]] = {"a": [], "b": []}

    def lane(name: str) -> None:
        lent[name].append(rig.pool.take(service, Deadline.after(30)))
        both_took.wait()  # two connections, one each
        # b gives back first, a last; then b asks first: a's is the last given back.
        if name == "a":
            b_gave_back.wait(5)
        rig.pool.give_back(lent[name][0])
        (b_gave_back if name == "b" else a_gave_back).set()
        if name == "b":
            a_gave_back.wait(5)
        else:
            b_took_again.wait(5)
        lent[name].append(rig.pool.take(service, Deadline.after(30)))
        if name == "b":
            b_took_again.set()

    lanes = [threading.Thread(target=lane, args=(name,)) for name in ("a", "b")]
    for thread in lanes:
        thread.start()
    for thread in lanes:
        thread.join(10)

    for first, again in lent.values():
        assert again.transport is first.transport
    assert (rig.outbox.opened, rig.outbox.closed) == (2, 0)


def test_services_do_not_share_their_connections(rig: Rig) -> None:
    email = smtp_service(secret_id="email-api/services/email", max_connections=1)
    bulk = smtp_service("bulk", secret_id="email-api/services/bulk", max_connections=1)

    leases = [rig.pool.take(email, Deadline.after(30)), rig.pool.take(bulk, Deadline.after(30))]

    assert [lease.pooled for lease in leases] == [True, True]


def test_close_all_closes_a_lent_connection_when_it_comes_back(rig: Rig) -> None:
    lent = rig.pool.take(SERVICE, Deadline.after(30))

    rig.pool.close_all()
    rig.pool.give_back(lent)

    assert rig.outbox.open_connections == 0
    assert rig.pool.idle_count() == 0


def test_a_connection_that_fails_to_open_leaves_the_service_free(rig: Rig) -> None:
    rig.outbox.fail_next_open(SmtpConnectFailed("refused"))

    with pytest.raises(SmtpConnectFailed):
        _deliver(rig, subject="one")
    _deliver(rig, subject="two")

    assert _subjects(rig.outbox) == ["two"]
    _deliver(rig, subject="three")
    assert rig.outbox.connections() == [1, 1]  # pooled, not a one-off for a busy one


# --- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        SmtpRejected("550 no such sender", context={"stage": "mail", "smtp_code": 550}),
        SmtpDeferred("451 try later", context={"stage": "rcpt", "smtp_code": 451}),
        SmtpTimeout("silent", context={"stage": "mail"}),
    ],
    ids=["rejected", "deferred", "timeout"],
)
def test_a_failure_closes_the_connection_and_goes_to_the_caller(
    rig: Rig, failure: SmtpFailure
) -> None:
    _deliver(rig, subject="one")
    rig.outbox.fail_next(failure)

    with pytest.raises(type(failure)):
        _deliver(rig, subject="two")

    assert _subjects(rig.outbox) == ["one"]
    assert len(rig.outbox.handed) == 2  # not sent again: the server answered it
    assert (rig.outbox.opened, rig.outbox.closed) == (1, 1)
    _deliver(rig, subject="three")
    assert rig.outbox.connections() == [1, 2]


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(_dead("mail"), id="closed-at-mail"),
        pytest.param(_dead("rcpt"), id="closed-at-rcpt"),
        pytest.param(_dead("data"), id="reset-before-the-dot"),
        pytest.param(_dead("mail", SmtpDeferred, smtp_code=421), id="421-at-mail"),
        pytest.param(_dead("mail", SmtpTlsError), id="tls-broken"),
    ],
)
def test_a_reused_connection_found_dead_is_replaced_and_the_message_sent_once(
    rig: Rig, failure: SmtpFailure
) -> None:
    _deliver(rig, subject="one")
    rig.outbox.fail_next(failure)

    _deliver(rig, subject="two")

    assert _subjects(rig.outbox) == ["one", "two"]
    assert rig.outbox.connections() == [1, 2]
    assert len(rig.outbox.handed) == 3  # the attempt on the dead one, then the one that went
    assert (rig.outbox.opened, rig.outbox.closed) == (2, 1)
    _deliver(rig, subject="three")
    assert rig.outbox.connections() == [1, 2, 2]  # the new one is kept in its place


def test_a_fresh_connection_is_not_tried_twice(rig: Rig) -> None:
    rig.outbox.fail_next(_dead("mail"))

    with pytest.raises(SmtpConnectFailed):
        _deliver(rig)

    assert len(rig.outbox.handed) == 1
    assert rig.outbox.open_connections == 0


def test_the_replacement_is_tried_once_only(rig: Rig) -> None:
    _deliver(rig, subject="one")
    rig.outbox.fail_next(_dead("mail"), _dead("mail", SmtpDeferred, smtp_code=421))

    with pytest.raises(SmtpDeferred):
        _deliver(rig, subject="two")

    assert len(rig.outbox.handed) == 3
    assert rig.outbox.open_connections == 0


def test_an_unknown_outcome_on_a_reused_connection_is_not_resent(rig: Rig) -> None:
    _deliver(rig, subject="one")
    rig.outbox.fail_next(
        SmtpOutcomeUnknown("closed after the dot", context={"stage": "end_of_data"})
    )

    with pytest.raises(SmtpOutcomeUnknown):
        _deliver(rig, subject="two")

    assert [sent.header("Subject") for sent in rig.outbox.handed] == ["one", "two"]
    assert (rig.outbox.opened, rig.outbox.closed) == (1, 1)


def test_only_a_failure_the_transport_calls_stale_is_sent_again(rig: Rig) -> None:
    # Delivery reads the transport's verdict, not SMTP's stages: the same lost connection,
    # not called stale, goes to the caller.
    _deliver(rig, subject="one")
    rig.outbox.fail_next(_at("mail"))

    with pytest.raises(SmtpConnectFailed):
        _deliver(rig, subject="two")

    assert len(rig.outbox.handed) == 2
