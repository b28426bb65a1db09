"""The daily counters in moto's DynamoDB, on the template's own table: ADDs accumulate, and a
range of days across months is read by Query, for one service or all."""

from __future__ import annotations

from datetime import date

import pytest

from core.stats.store import StatsRepository
from tests.conftest import TABLE_NAMES

pytestmark = pytest.mark.usefixtures("aws")


@pytest.fixture
def store() -> StatsRepository:
    return StatsRepository(TABLE_NAMES["StatsTable"])


def test_adds_accumulate_in_one_item_a_service_and_day(store: StatsRepository) -> None:
    store.add("email", "2026-03-02", {"accepted": 2, "sent": 1, "recipients": 3})
    store.add("email", "2026-03-02", {"sent": 1, "recipients": 1, "bounced": 1})

    (day,) = store.days(date(2026, 3, 2), date(2026, 3, 2), service=None)

    assert (day.service, day.date) == ("email", "2026-03-02")
    assert day.counts == {"accepted": 2, "sent": 2, "recipients": 4, "bounced": 1}


def test_a_range_spans_months_and_ends_where_it_says(store: StatsRepository) -> None:
    for day in ("2026-01-31", "2026-02-01", "2026-02-28", "2026-03-01", "2026-03-02"):
        store.add("email", day, {"accepted": 1})
        store.add("news", day, {"accepted": 1})

    rows = store.days(date(2026, 1, 31), date(2026, 3, 1), service=None)

    assert [(row.date, row.service) for row in rows] == [
        ("2026-01-31", "email"),
        ("2026-01-31", "news"),
        ("2026-02-01", "email"),
        ("2026-02-01", "news"),
        ("2026-02-28", "email"),
        ("2026-02-28", "news"),
        ("2026-03-01", "email"),
        ("2026-03-01", "news"),
    ]


def test_one_service_alone(store: StatsRepository) -> None:
    store.add("email", "2026-03-02", {"accepted": 1})
    store.add("email-2", "2026-03-02", {"accepted": 5})

    rows = store.days(date(2026, 3, 1), date(2026, 3, 31), service="email")

    assert [(row.service, row.counts) for row in rows] == [("email", {"accepted": 1})]


def test_nothing_to_add_writes_nothing(store: StatsRepository) -> None:
    store.add("email", "2026-03-02", {"accepted": 0, "not_a_counter": 4})

    assert store.days(date(2026, 3, 2), date(2026, 3, 2), service=None) == []
