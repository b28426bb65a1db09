"""A service's connection slots in moto's DynamoDB: at most its limit held at once across
holders, a slot freed by its holder or by its time running out, never freed by another."""

from __future__ import annotations

import pytest

from core.delivery.connection_slots import HOLD_GRACE_SECONDS, ConnectionSlots
from core.storage import ItemTable
from tests.conftest import TABLE_NAMES

START = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slots(aws: None, clock: Clock) -> ConnectionSlots:
    return ConnectionSlots(ItemTable(TABLE_NAMES["RateLimitsTable"], "id"), clock=clock)


def test_holders_together_never_get_more_than_the_limit(slots: ConnectionSlots) -> None:
    first = slots.take("email", 3, limit=4, hold_seconds=60)
    second = slots.take("email", 3, limit=4, hold_seconds=60)
    third = slots.take("email", 1, limit=4, hold_seconds=60)

    assert (first.count, second.count, third.count) == (3, 1, 0)
    assert set(first.indexes).isdisjoint(second.indexes)


def test_a_released_slot_is_free_for_the_next_holder(slots: ConnectionSlots) -> None:
    first = slots.take("email", 2, limit=2, hold_seconds=60)
    first.release()

    assert slots.take("email", 2, limit=2, hold_seconds=60).count == 2


def test_a_crashed_holders_slot_frees_itself_a_little_past_its_time(
    slots: ConnectionSlots, clock: Clock
) -> None:
    slots.take("email", 1, limit=1, hold_seconds=60)  # never released

    clock.now += 60
    assert slots.take("email", 1, limit=1, hold_seconds=60).count == 0  # the grace holds
    clock.now += HOLD_GRACE_SECONDS + 1
    assert slots.take("email", 1, limit=1, hold_seconds=60).count == 1


def test_a_late_release_does_not_free_a_slot_someone_else_took_since(
    slots: ConnectionSlots, clock: Clock
) -> None:
    late = slots.take("email", 1, limit=1, hold_seconds=10)
    clock.now += 10 + HOLD_GRACE_SECONDS + 1
    current = slots.take("email", 1, limit=1, hold_seconds=60)

    late.release()

    assert current.count == 1
    assert slots.take("email", 1, limit=1, hold_seconds=60).count == 0


def test_services_have_slots_of_their_own_and_a_lowered_limit_holds_at_once(
    slots: ConnectionSlots,
) -> None:
    assert slots.take("email", 4, limit=4, hold_seconds=60).count == 4
    assert slots.take("other", 4, limit=4, hold_seconds=60).count == 4
    assert slots.take("email", 1, limit=2, hold_seconds=60).count == 0
