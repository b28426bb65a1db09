"""`GET /system/stats`'s answer: the counters of a range of days, as rows with their rates,
the range's totals, and SES's thresholds beside them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import InvalidRequest
from core.ports import StatsStore
from core.stats.model import SES_THRESHOLDS, DayStats, Thresholds, totals

# Without `since`, the last 30 days (today included).
DEFAULT_DAYS = 30
# A range reads a Query a month: 400 days is 14 of them at most.
MAX_DAYS = 400


class StatsReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    since: date
    until: date
    rows: list[DayStats]
    thresholds: Thresholds = SES_THRESHOLDS

    def answer(self) -> dict[str, Any]:
        return {
            "resource": [row.model_dump(mode="json") for row in self.rows],
            "meta": {
                "since": self.since.isoformat(),
                "until": self.until.isoformat(),
                "thresholds": self.thresholds.model_dump(mode="json"),
                "totals": totals(self.rows),
            },
        }


def daily_stats(
    store: StatsStore,
    today: date,
    *,
    service: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> StatsReport:
    """The days from `since` to `until` (both included; without them, the 30 up to today, or
    the 30 from `since`), of `service` or of every service; a range backwards or over
    `MAX_DAYS` is a 400."""
    window = timedelta(days=DEFAULT_DAYS - 1)
    try:
        if until is None:
            until = today if since is None else since + window
        if since is None:
            since = until - window
    except OverflowError:
        raise InvalidRequest(
            "The range runs past the calendar; name both 'since' and 'until'.",
            reason="invalid_range",
        ) from None
    if since > until:
        raise InvalidRequest(
            "'since' is after 'until'.",
            reason="invalid_range",
            context={"since": since.isoformat(), "until": until.isoformat()},
        )
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidRequest(
            f"At most {MAX_DAYS} days at a time.",
            reason="invalid_range",
            context={"since": since.isoformat(), "until": until.isoformat()},
        )
    rows = [
        DayStats.of(day.service, day.date, day.counts)
        for day in store.days(since, until, service=service)
    ]
    return StatsReport(since=since, until=until, rows=rows)
