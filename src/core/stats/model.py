"""One service's numbers for one day, and how they read beside SES's thresholds.

SES reviews an account whose bounce rate reaches 5% or complaint rate 0.1%, and may pause
its sending at 10% and 0.5%; the rates here are bounced (complained) recipients over the
recipients sent to that day, so a day can be flagged before SES does it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

# About the whole message (its record's status).
MESSAGE_COUNTERS = ("accepted", "sent", "failed", "deferred", "unknown", "cancelled")
# About recipients: `recipients` counts those a sent message went to, the rates' base.
RECIPIENT_COUNTERS = (
    "recipients",
    "delivered",
    "bounced",
    "complained",
    "delayed",
    "suppressed",
)
COUNTERS = (*MESSAGE_COUNTERS, *RECIPIENT_COUNTERS)


@dataclass(frozen=True)
class DayCounts:
    """What the counters of one service's day hold (a counter never added to is absent)."""

    service: str
    date: str
    counts: Mapping[str, int] = field(default_factory=dict)


class Thresholds(BaseModel):
    """SES's account-level thresholds, as fractions."""

    model_config = ConfigDict(frozen=True)

    bounce_review: float = 0.05
    bounce_pause: float = 0.10
    complaint_review: float = 0.001
    complaint_pause: float = 0.005


SES_THRESHOLDS = Thresholds()


# A row as the API shows it: the model's example, and the stats answer's.
DAY_STATS_EXAMPLE: JsonDict = {
    "service": "email",
    "date": "2026-11-30",
    "accepted": 120,
    "sent": 118,
    "failed": 1,
    "deferred": 3,
    "unknown": 0,
    "cancelled": 1,
    "recipients": 130,
    "delivered": 124,
    "bounced": 7,
    "complained": 0,
    "delayed": 2,
    "suppressed": 2,
    "bounce_rate": 0.053846,
    "complaint_rate": 0.0,
    "flags": ["bounce_review"],
}


class DayStats(BaseModel):
    """A row of `GET /system/stats`."""

    model_config = ConfigDict(frozen=True, json_schema_extra={"examples": [DAY_STATS_EXAMPLE]})

    service: str
    date: str = Field(description="The UTC day (`YYYY-MM-DD`).")
    accepted: int = 0
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    cancelled: int = 0
    recipients: int = Field(default=0, description="Recipients the sent messages went to.")
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    delayed: int = 0
    suppressed: int = 0
    bounce_rate: float | None = Field(description="bounced / recipients; null without any.")
    complaint_rate: float | None = Field(description="complained / recipients; null without any.")
    flags: list[str] = Field(
        default_factory=list,
        description="The SES thresholds the day's rates reach: `bounce_review`,"
        " `bounce_pause`, `complaint_review`, `complaint_pause`.",
    )

    @classmethod
    def of(
        cls,
        service: str,
        date: str,
        counts: Mapping[str, int],
        thresholds: Thresholds = SES_THRESHOLDS,
    ) -> DayStats:
        numbers = {name: int(counts.get(name, 0)) for name in COUNTERS}
        sent_to = numbers["recipients"]
        bounce_rate = _rate(numbers["bounced"], sent_to)
        complaint_rate = _rate(numbers["complained"], sent_to)
        return cls(
            service=service,
            date=date,
            **numbers,
            bounce_rate=bounce_rate,
            complaint_rate=complaint_rate,
            flags=flags(bounce_rate, complaint_rate, thresholds),
        )


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 6)


def flags(
    bounce_rate: float | None, complaint_rate: float | None, thresholds: Thresholds
) -> list[str]:
    """The thresholds the rates reach, as SES counts them (at or above)."""
    reached: list[str] = []
    checks: list[tuple[str, float | None, float]] = [
        ("bounce_review", bounce_rate, thresholds.bounce_review),
        ("bounce_pause", bounce_rate, thresholds.bounce_pause),
        ("complaint_review", complaint_rate, thresholds.complaint_review),
        ("complaint_pause", complaint_rate, thresholds.complaint_pause),
    ]
    for name, rate, threshold in checks:
        if rate is not None and rate >= threshold:
            reached.append(name)
    return reached


def totals(rows: list[DayStats]) -> dict[str, Any]:
    """Every counter summed over `rows`, with the rates of the sums."""
    summed = {name: sum(getattr(row, name) for row in rows) for name in COUNTERS}
    return {
        **summed,
        "bounce_rate": _rate(summed["bounced"], summed["recipients"]),
        "complaint_rate": _rate(summed["complained"], summed["recipients"]),
    }
