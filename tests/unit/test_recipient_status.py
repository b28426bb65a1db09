"""A recipient's state climbs one ladder: any order of the same events ends the same."""

from __future__ import annotations

from functools import reduce
from itertools import permutations

from core.delivery.recipient_status import RecipientState, RecipientStatus, moved_on

EVENTS = [
    RecipientStatus(state=RecipientState.SENT, at="2026-12-04T10:00:00Z"),
    RecipientStatus(state=RecipientState.DELAYED, at="2026-12-04T10:00:01Z", diagnostic="421"),
    RecipientStatus(state=RecipientState.DELAYED, at="2026-12-04T10:00:02Z", diagnostic="451"),
    RecipientStatus(state=RecipientState.DELIVERED, at="2026-12-04T10:00:03Z"),
    RecipientStatus(
        state=RecipientState.BOUNCED, at="2026-12-04T10:00:04Z", bounce_type="Permanent"
    ),
]


def _final(events: tuple[RecipientStatus, ...]) -> RecipientStatus | None:
    return reduce(moved_on, events, None)


def test_every_order_of_the_same_events_ends_bounced() -> None:
    finals = {_final(order) for order in permutations(EVENTS)}

    assert finals == {EVENTS[-1]}


def test_of_two_delays_the_later_one_stays_whatever_came_first() -> None:
    delays = (EVENTS[1], EVENTS[2])

    assert _final(delays) == _final(delays[::-1]) == EVENTS[2]


def test_a_delivery_never_falls_back_to_a_delay() -> None:
    assert moved_on(EVENTS[3], EVENTS[2]) == EVENTS[3]
