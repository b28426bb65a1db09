"""A service's connection slots in moto's DynamoDB: at most its limit held at once across
holders, a slot freed by its holder or by its time running out, never freed by another."""

from __future__ import annotations

import pytest

from core.delivery import connection_slots as slot_module
from core.delivery.connection_slots import (
    HOLD_SECONDS,
    PATIENCE_SECONDS,
    ConnectionSlots,
    Wanted,
)
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
def table(aws: None) -> ItemTable:
    return ItemTable(TABLE_NAMES["RateLimitsTable"], "id")


@pytest.fixture
def slots(table: ItemTable, clock: Clock) -> ConnectionSlots:
    return ConnectionSlots(table, clock=clock)


def test_holders_together_never_get_more_than_the_limit(slots: ConnectionSlots) -> None:
    first = slots.take("email", 3, limit=4)
    second = slots.take("email", 3, limit=4)
    third = slots.take("email", 1, limit=4)

    assert (first.count, second.count, third.count) == (3, 1, 0)
    assert set(first.indexes).isdisjoint(second.indexes)


def test_a_released_slot_is_free_for_the_next_holder(slots: ConnectionSlots) -> None:
    first = slots.take("email", 2, limit=2)
    first.release()

    assert slots.take("email", 2, limit=2).count == 2


def test_a_dead_holders_slot_frees_itself_one_hold_after_its_last_renewal(
    slots: ConnectionSlots, clock: Clock
) -> None:
    slots.take("email", 1, limit=1)  # never renewed nor released, as by a dead worker

    clock.now += HOLD_SECONDS - 1
    assert slots.take("email", 1, limit=1).count == 0
    clock.now += 2
    assert slots.take("email", 1, limit=1).count == 1


def test_a_live_holder_keeps_its_slot_past_one_hold_by_renewing_it(
    slots: ConnectionSlots, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = slots.take("email", 1, limit=1)
    live.renew_if_due()  # too soon: nothing written
    clock.now += HOLD_SECONDS - 1
    monkeypatch.setattr(slot_module, "RENEW_EVERY_SECONDS", 0)  # its lane's next message
    live.renew_if_due()
    clock.now += 2  # past the first hold, within the renewed one

    assert slots.take("email", 1, limit=1).count == 0
    live.release()
    assert slots.take("email", 1, limit=1).count == 1


def test_a_late_release_does_not_free_a_slot_someone_else_took_since(
    slots: ConnectionSlots, clock: Clock
) -> None:
    late = slots.take("email", 1, limit=1)
    clock.now += HOLD_SECONDS + 1
    current = slots.take("email", 1, limit=1)

    late.release()

    assert current.count == 1
    assert slots.take("email", 1, limit=1).count == 0


def test_services_have_slots_of_their_own_and_a_lowered_limit_holds_at_once(
    slots: ConnectionSlots,
) -> None:
    assert slots.take("email", 4, limit=4).count == 4
    assert slots.take("other", 4, limit=4).count == 4
    assert slots.take("email", 1, limit=2).count == 0


def test_a_waiting_holder_takes_the_slot_its_holder_frees(table: ItemTable, clock: Clock) -> None:
    """`take_any` looks again, backing off, until a slot comes free: here its holder's batch
    ends after the waiter's third look."""
    looks: list[float] = []
    holder = ConnectionSlots(table, clock=clock).take("email", 1, limit=1)

    def wait(seconds: float) -> None:
        looks.append(seconds)
        clock.now += seconds
        if len(looks) == 3:
            holder.release()

    waiter = ConnectionSlots(table, clock=clock, sleep=wait)
    [held] = waiter.take_any([Wanted("email", 1, 1)], patience=PATIENCE_SECONDS)

    assert held.count == 1
    assert looks == [0.05, 0.1, 0.2]


def test_a_dead_holders_slot_is_taken_by_a_waiter_within_its_patience(
    table: ItemTable, clock: Clock
) -> None:
    ConnectionSlots(table, clock=clock).take("email", 1, limit=1)  # killed while holding it

    def wait(seconds: float) -> None:
        clock.now += seconds

    waiter = ConnectionSlots(table, clock=clock, sleep=wait)
    [held] = waiter.take_any([Wanted("email", 1, 1)], patience=PATIENCE_SECONDS)

    assert held.count == 1
    assert HOLD_SECONDS < clock.now - START <= PATIENCE_SECONDS


def test_a_waiter_gives_up_after_its_patience(table: ItemTable, clock: Clock) -> None:
    holder = ConnectionSlots(table, clock=clock)
    holder.take("email", 1, limit=1)

    def wait(seconds: float) -> None:
        clock.now += seconds
        holder.take("email", 1, limit=1)  # another worker always gets there first

    waiter = ConnectionSlots(table, clock=clock, sleep=wait)
    [held] = waiter.take_any([Wanted("email", 1, 1)], patience=2)

    assert held.count == 0
    assert clock.now - START <= 2
