"""A rate limiter without a table (unit tests): counts what each subject took and gave back,
and refuses the subjects a test tells it to, as the real one refuses (`RateLimited`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.access.model import RateLimits
from core.access.quota import Quota
from core.access.reservation import Reservation
from core.errors import RateLimited
from core.ports import Limiter

RESET_AT = 1_800_000_000  # what every fake quota says about its reset


@dataclass
class FakeLimiter:
    """`taken` and `released` count units by subject; `held(subject)` is what is still out.
    `calls` lists every consume as (`"calendar"` or `"sliding"`, subject)."""

    taken: Counter[str] = field(default_factory=Counter)
    released: Counter[str] = field(default_factory=Counter)
    calls: list[tuple[str, str]] = field(default_factory=list)
    refusals: dict[str, RateLimited] = field(default_factory=dict)

    def refuse(self, subject: str, *, retry_after: int = 1, limit: int = 1) -> RateLimited:
        """Refuse `subject` from now on (until `allow`); returns the error it will raise."""
        refusal = RateLimited(
            f"Rate limit of {limit} reached; retry after {retry_after} seconds.",
            retry_after=retry_after,
            quota=Quota(limit, 0, RESET_AT),
            context={"limit": limit},
        )
        self.refusals[subject] = refusal
        return refusal

    def allow(self, subject: str) -> None:
        self.refusals.pop(subject, None)

    def held(self, subject: str) -> int:
        return self.taken[subject] - self.released[subject]

    def consume(self, subject: str, limits: RateLimits) -> Reservation:
        self.calls.append(("calendar", subject))
        return self._take(subject, limits)

    def consume_sliding(self, subject: str, limits: RateLimits) -> Reservation:
        self.calls.append(("sliding", subject))
        return self._take(subject, limits)

    def sliding_wait(self, subject: str, limits: RateLimits) -> float:
        refusal = self.refusals.get(subject)
        return 0.0 if refusal is None else float(refusal.retry_after)

    def _take(self, subject: str, limits: RateLimits) -> Reservation:
        if subject in self.refusals:
            raise self.refusals[subject]
        self.taken[subject] += 1
        windows = limits.windows()
        quota = None
        if windows:
            limit = min(limit for _name, _seconds, limit in windows)
            quota = Quota(limit, max(0, limit - self.held(subject)), RESET_AT)
        return Reservation(quota, (subject,), self._give_back)

    def _give_back(self, subject: str) -> None:
        self.released[subject] += 1


_limiter: Limiter = FakeLimiter()
