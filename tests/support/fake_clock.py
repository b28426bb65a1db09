"""A clock that stands still until a test moves it (unit tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.ports import Clock

# A fixed moment with a fraction of a second, so that rounding to a Date header shows.
START = datetime(2026, 3, 2, 9, 30, 15, 250_000, tzinfo=UTC)


@dataclass
class FakeClock:
    at: datetime = field(default=START)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at


_clock: Clock = FakeClock()
