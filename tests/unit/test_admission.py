"""Admission: recipient ceilings, the role's policy, and taking the caller's and the provider's
rate limits together (both, or neither)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.access.authentication import Principal
from core.access.model import RateLimits, Role
from core.access.quota import Quota
from core.addresses import Mailbox
from core.admission import Admission
from core.errors import Forbidden, InvalidRequest, RateLimited
from core.message import Message
from tests.support.fake_limiter import RESET_AT, FakeLimiter
from tests.support.fake_services import smtp_service

SERVICE = smtp_service(max_send_rate=5, daily_quota=500)
ROLE = Role(name="app", services=["*"], senders=["*@example.com"], rate_limits={"per_minute": 10})
CALLER = Principal("key-1", ROLE)
PROVIDER = "service:email"


@pytest.fixture
def limiter() -> FakeLimiter:
    return FakeLimiter()


@pytest.fixture
def admission(limiter: FakeLimiter) -> Admission:
    return Admission(limiter, max_recipients=3)


def _message(sender: str = "noreply@example.com", recipients: int = 1) -> Message:
    return Message(
        sender=Mailbox(sender),
        to=[Mailbox(f"rcpt{n}@example.com") for n in range(recipients)],
        body_text="Hi",
        message_id="<fixed@example.com>",
        date=datetime(2026, 3, 2, 9, 30, tzinfo=UTC),
    )


# --- recipient ceilings ----------------------------------------------------------------------


def test_the_operators_ceiling(admission: Admission) -> None:
    admission.check_recipient_count(SERVICE, 3)

    with pytest.raises(InvalidRequest) as raised:
        admission.check_recipient_count(SERVICE, 4)

    assert (raised.value.status, raised.value.reason) == (400, "too_many_recipients")
    assert raised.value.context == {"recipients": 4, "limit": 3}


def test_a_service_may_lower_the_ceiling(admission: Admission) -> None:
    service = smtp_service(max_recipients=2)
    admission.check_recipient_count(service, 2)

    with pytest.raises(InvalidRequest) as raised:
        admission.check_recipient_count(service, 3)

    assert raised.value.context == {"recipients": 3, "limit": 2}


def test_a_service_cannot_raise_the_ceiling(admission: Admission) -> None:
    with pytest.raises(InvalidRequest) as raised:
        admission.check_recipient_count(smtp_service(max_recipients=100), 4)

    assert raised.value.context == {"recipients": 4, "limit": 3}


# --- the role's policy ------------------------------------------------------------------------


def test_a_message_the_role_allows(admission: Admission) -> None:
    admission.check_message(CALLER, SERVICE, _message("billing@example.com"))


def test_the_roles_sender_rules(admission: Admission) -> None:
    with pytest.raises(Forbidden) as raised:
        admission.check_message(CALLER, SERVICE, _message("ceo@elsewhere.example"))

    assert (raised.value.status, raised.value.reason) == (403, "sender_forbidden")
    assert raised.value.context == {"field": "from_email", "address": "ceo@elsewhere.example"}


def test_the_roles_recipient_limit_counts_the_message(admission: Admission) -> None:
    caller = Principal("key-2", ROLE.model_copy(update={"max_recipients": 1}))

    with pytest.raises(Forbidden) as raised:
        admission.check_message(caller, SERVICE, _message(recipients=2))

    assert raised.value.reason == "too_many_recipients"
    assert raised.value.context == {"recipients": 2, "limit": 1}


# --- rate limits ------------------------------------------------------------------------------


def test_the_role_takes_from_its_calendar_windows(
    admission: Admission, limiter: FakeLimiter
) -> None:
    reservation = admission.take_role(CALLER)

    assert limiter.calls == [("calendar", "app")]
    assert reservation.quota == Quota(10, 9, RESET_AT)


def test_the_provider_takes_from_sliding_windows(
    admission: Admission, limiter: FakeLimiter
) -> None:
    reservation = admission.take_provider(SERVICE)

    assert limiter.calls == [("sliding", PROVIDER)]
    assert SERVICE.config.provider_limits() == RateLimits(per_second=5, per_day=500)
    assert reservation.quota == Quota(5, 4, RESET_AT)


def test_take_takes_both(admission: Admission, limiter: FakeLimiter) -> None:
    allowance = admission.take(CALLER, SERVICE)

    assert limiter.calls == [("calendar", "app"), ("sliding", PROVIDER)]
    assert (limiter.held("app"), limiter.held(PROVIDER)) == (1, 1)
    assert allowance.quota == Quota(10, 9, RESET_AT)  # the caller's, not the provider's


def test_releasing_an_allowance_gives_both_back_once(
    admission: Admission, limiter: FakeLimiter
) -> None:
    allowance = admission.take(CALLER, SERVICE)

    allowance.release()
    allowance.release()

    assert (limiter.released["app"], limiter.released[PROVIDER]) == (1, 1)
    assert (limiter.held("app"), limiter.held(PROVIDER)) == (0, 0)


def test_a_provider_refusal_gives_the_roles_unit_back(
    admission: Admission, limiter: FakeLimiter
) -> None:
    refusal = limiter.refuse(PROVIDER, retry_after=3)

    with pytest.raises(RateLimited) as raised:
        admission.take(CALLER, SERVICE)

    assert raised.value is refusal
    assert raised.value.retry_after == 3
    assert limiter.released["app"] == 1
    assert limiter.held("app") == 0


def test_a_role_refusal_never_asks_the_provider(admission: Admission, limiter: FakeLimiter) -> None:
    refusal = limiter.refuse("app", retry_after=40)

    with pytest.raises(RateLimited) as raised:
        admission.take(CALLER, SERVICE)

    assert raised.value is refusal
    assert limiter.calls == [("calendar", "app")]
    assert limiter.taken == {}


def test_without_limits_there_is_no_quota(admission: Admission) -> None:
    allowance = admission.take(Principal.bootstrap(), smtp_service())

    assert allowance.quota is None
