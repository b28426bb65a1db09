"""Per-role rate limits, enforced atomically in DynamoDB so concurrent Lambdas share them.

Each window (this minute, this day) is one counter item. A send takes one from every window
with a conditional update (`hits < limit`), which DynamoDB applies atomically: however many
Lambdas race, at most `limit` updates succeed. If a later window refuses, the earlier ones are
given back. What a send took comes back to it as a `Reservation`, so a request refused after
it (by another limit, say) can give exactly those counters back, even if a window has turned
in between. Counters expire through the table's TTL.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from core.access.model import RateLimits
from core.errors import RateLimited
from core.storage import ItemTable

# Counters are kept a little past their window, then DynamoDB's TTL removes them.
_EXPIRY_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Quota:
    """The tightest window after this request: its limit, what is left, and when it resets."""

    limit: int
    remaining: int
    reset_at: int  # epoch seconds

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


@dataclass
class Reservation:
    """What one `consume` took: the counters to give back if the request is refused later."""

    quota: Quota | None
    counters: tuple[str, ...]
    _give_back: Callable[[str], None] = field(repr=False)
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        """Give back what was taken (once, however often called): the request used nothing."""
        if self._released:
            return
        self._released = True
        for counter in self.counters:
            self._give_back(counter)


class RateLimiter:
    def __init__(self, table: ItemTable, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def consume(self, subject: str, limits: RateLimits) -> Reservation:
        """Take one from each of `subject`'s windows, or raise `RateLimited` taking nothing."""
        now = self._clock()
        taken: list[str] = []
        quotas: list[Quota] = []
        for window, seconds, limit in limits.windows():
            start = math.floor(now / seconds) * seconds
            counter = f"{subject}#{window}#{start}"
            hits = self._take(counter, limit, expires_at=start + seconds + _EXPIRY_GRACE_SECONDS)
            if hits is None:
                for earlier in taken:
                    self._give_back(earlier)
                reset_at = start + seconds
                error = RateLimited(
                    f"Rate limit of {limit} per {window} reached; retry after"
                    f" {reset_at - math.floor(now)} seconds.",
                    context={"window": window, "limit": limit},
                )
                error.headers = {
                    "Retry-After": str(max(1, math.ceil(reset_at - now))),
                    **Quota(limit, 0, reset_at).headers(),
                }
                raise error
            taken.append(counter)
            quotas.append(Quota(limit, limit - hits, start + seconds))
        tightest = min(quotas, key=lambda quota: quota.remaining) if quotas else None
        return Reservation(tightest, tuple(taken), self._give_back)

    def _take(self, counter: str, limit: int, *, expires_at: int) -> int | None:
        """The counter's new value, or None when it is already at `limit`."""
        client = self._table.table.meta.client
        try:
            answer = self._table.table.update_item(
                Key={self._table.key: counter},
                UpdateExpression="ADD hits :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(hits) OR hits < :limit",
                ExpressionAttributeValues={":one": 1, ":limit": limit, ":expires": expires_at},
                ReturnValues="UPDATED_NEW",
            )
        except client.exceptions.ConditionalCheckFailedException:
            return None
        hits = answer["Attributes"]["hits"]
        assert isinstance(hits, Decimal)  # a DynamoDB number
        return int(hits)

    def _give_back(self, counter: str) -> None:
        self._table.table.update_item(
            Key={self._table.key: counter},
            UpdateExpression="ADD hits :minus_one",
            ExpressionAttributeValues={":minus_one": -1},
        )
