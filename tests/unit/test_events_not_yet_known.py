"""When an SES event about a message no record knows is tried again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.events.not_yet_known import MAX_RECEIVES, YOUNG_FOR, worth_retrying
from core.events.ses_event import EventType, SesEvent

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def _sent(at: str) -> SesEvent:
    return SesEvent(EventType.SEND, "0100018c-id", at=at, sent_at=at, recipients=())


def test_an_event_of_young_mail_is_retried_until_the_queues_last_receive() -> None:
    event = _sent("2026-12-04T09:59:58.000Z")

    assert [worth_retrying(event, n, NOW) for n in range(1, MAX_RECEIVES + 1)] == [
        *[True] * (MAX_RECEIVES - 1),
        False,
    ]


def test_an_event_of_older_mail_is_not() -> None:
    old = (NOW - YOUNG_FOR - timedelta(seconds=1)).isoformat()

    assert not worth_retrying(_sent(old), 1, NOW)


@pytest.mark.parametrize("sent_at", ["", "yesterday", "2026-12-04T09:59:58"])
def test_an_event_without_a_zoned_time_is_not(sent_at: str) -> None:
    assert not worth_retrying(_sent(sent_at), 1, NOW)
