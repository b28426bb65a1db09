"""The daily counters' arithmetic: a batch of events tallied per (service, day) and added in
one write a bucket; a day's rates and the SES thresholds they reach; the range of days read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest

from core.errors import InvalidRequest
from core.message_events.model import MessageEvent
from core.message_events.model import MessageEventType as T
from core.stats.counters import DailyCounters, tally
from core.stats.model import DayCounts, DayStats, totals
from core.stats.report import daily_stats

MONDAY = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
TUESDAY = datetime(2026, 3, 3, 0, 1, tzinfo=UTC)


def _event(kind: T, service: str = "email", at: datetime = MONDAY, **data: int) -> MessageEvent:
    recipient = "a@example.com" if kind in (T.BOUNCED, T.DELIVERED, T.SUPPRESSED) else None
    return MessageEvent(
        type=kind, message_id="m1", service=service, recipient=recipient, at=at, data=data
    )


class RecordingStore:
    def __init__(self) -> None:
        self.writes: list[tuple[str, str, dict[str, int]]] = []

    def add(self, service: str, day: str, counts: Mapping[str, int]) -> None:
        self.writes.append((service, day, dict(counts)))

    def days(self, since: date, until: date, *, service: str | None) -> list[DayCounts]:
        return []


def test_a_batch_is_tallied_per_service_and_utc_day() -> None:
    events = [
        _event(T.ACCEPTED),
        _event(T.QUEUED),  # counted by nobody: `accepted` is
        _event(T.SENT, recipients=3),
        _event(T.SUPPRESSED),
        _event(T.ACCEPTED, service="news"),
        _event(T.BOUNCED, at=TUESDAY),
        _event(T.DELIVERED, at=TUESDAY),
    ]

    assert tally(events) == {
        ("email", "2026-03-02"): {"accepted": 1, "sent": 1, "recipients": 3, "suppressed": 1},
        ("news", "2026-03-02"): {"accepted": 1},
        ("email", "2026-03-03"): {"bounced": 1, "delivered": 1},
    }


def test_each_bucket_is_one_write_and_a_batch_of_nothing_counted_none() -> None:
    store = RecordingStore()
    counters = DailyCounters(store)

    counters.publish([_event(T.QUEUED)])
    counters.publish([_event(T.SENT, recipients=2), _event(T.SENT, recipients=1)])

    assert store.writes == [("email", "2026-03-02", {"sent": 2, "recipients": 3})]


def test_rates_are_over_the_recipients_sent_to_and_null_without_any() -> None:
    quiet = DayStats.of("email", "2026-03-02", {"accepted": 2})
    assert (quiet.bounce_rate, quiet.complaint_rate, quiet.flags) == (None, None, [])

    day = DayStats.of("email", "2026-03-02", {"recipients": 1000, "bounced": 60, "complained": 1})
    assert (day.bounce_rate, day.complaint_rate) == (0.06, 0.001)
    assert day.flags == ["bounce_review", "complaint_review"]


@pytest.mark.parametrize(
    ("bounced", "complained", "flags"),
    [
        (49, 0, []),
        (100, 0, ["bounce_review", "bounce_pause"]),
        (0, 5, ["complaint_review", "complaint_pause"]),
    ],
)
def test_flags_say_which_ses_thresholds_a_day_reaches(
    bounced: int, complained: int, flags: list[str]
) -> None:
    counts = {"recipients": 1000, "bounced": bounced, "complained": complained}
    assert DayStats.of("email", "2026-03-02", counts).flags == flags


def test_totals_sum_the_rows_and_rate_the_sums() -> None:
    rows = [
        DayStats.of("email", "2026-03-02", {"recipients": 10, "bounced": 1, "sent": 4}),
        DayStats.of("news", "2026-03-02", {"recipients": 30, "bounced": 1, "sent": 6}),
    ]

    summed = totals(rows)

    assert (summed["sent"], summed["recipients"], summed["bounced"]) == (10, 40, 2)
    assert (summed["bounce_rate"], summed["complaint_rate"]) == (0.05, 0.0)


class RangeStore(RecordingStore):
    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[date, date, str | None]] = []

    def days(self, since: date, until: date, *, service: str | None) -> list[DayCounts]:
        self.asked.append((since, until, service))
        return [DayCounts("email", since.isoformat(), {"recipients": 4, "bounced": 1})]


TODAY = date(2026, 3, 31)


@pytest.mark.parametrize(
    ("since", "until", "read"),
    [
        (None, None, (date(2026, 3, 2), TODAY)),
        (date(2026, 1, 1), None, (date(2026, 1, 1), date(2026, 1, 30))),
        (None, date(2026, 1, 30), (date(2026, 1, 1), date(2026, 1, 30))),
        (date(2025, 3, 1), date(2026, 4, 4), (date(2025, 3, 1), date(2026, 4, 4))),  # 400
    ],
)
def test_the_range_read_by_default_and_as_asked(
    since: date | None, until: date | None, read: tuple[date, date]
) -> None:
    store = RangeStore()

    report = daily_stats(store, TODAY, service="email", since=since, until=until)

    assert store.asked == [(*read, "email")]
    assert report.answer()["meta"]["since"] == read[0].isoformat()
    assert report.rows[0].bounce_rate == 0.25


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (date(2026, 3, 2), date(2026, 3, 1)),  # backwards
        (date(2025, 3, 1), date(2026, 4, 5)),  # 400 days and one
        (None, date(1, 1, 1)),  # 29 days before the calendar starts
    ],
)
def test_a_range_backwards_too_long_or_off_the_calendar_is_a_400(
    since: date | None, until: date | None
) -> None:
    store = RangeStore()

    with pytest.raises(InvalidRequest):
        daily_stats(store, TODAY, since=since, until=until)

    assert store.asked == []
