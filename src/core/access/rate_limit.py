"""Rate limits, enforced atomically in DynamoDB so concurrent Lambdas share them.

Two kinds, for two purposes:

**A role's limits** (`consume`) are quotas in calendar windows (this minute, this day, UTC), as
`X-RateLimit-Reset` tells the client. Each window is one counter item; a send takes one from
every window with a conditional update (`hits < limit`), which DynamoDB applies atomically:
however many Lambdas race, at most `limit` updates succeed. If a later window refuses, the
earlier ones are given back. They stay calendar windows on purpose: a client sees a quota that
resets at a known moment, and nothing downstream refuses what crosses an edge.

**A provider's limits** (`consume_sliding`: a service's `max_send_rate` and `daily_quota`)
must hold in *every* window, since providers count in sliding ones: with calendar seconds,
`limit` sends at the end of one second and `limit` more at the start of the next are `2 *
limit` within a few milliseconds. So each subject has one item holding, for each window, the
admissions counted in slices of it (10 x 100 ms for a second, 96 x 15 min for a day) and a
`version`. An admission reads the item, counts the slices that overlap the window behind it,
and writes the item back with one more in its own slice, on condition that `version` is still
what it read (optimistic concurrency: on a conflict it reads again and retries, a few times).
DynamoDB applies conditional writes to an item one at a time, so admissions form one sequence,
and each was decided on the item as every earlier one left it.

Why no window ever holds more than `limit`. Time is in whole milliseconds; a window of W is n
slices of b (W = n b). An admission's time t is its clock, or the start of the newest slice in
the item if that is later (a worker whose clock lags counts as late as the latest write), so
times never go back along the sequence. It falls in slice k = floor(t / b) and counts the
slices k - n - g .. k, the oldest of them whole (g extra "guard" slices, below). Take any
window [a, a + W] and, of the admissions in it, the last in the sequence: s, at t_s <= a + W.
Every other admission i in the window came earlier in the sequence and has t_i >= a >= t_s - W,
so its slice floor(t_i / b) >= floor((t_s - W) / b) = k_s - n >= k_s - n - g: s counted it.
s was admitted only because it counted fewer than `limit`; with s, the window holds at most
`limit`. A slice leaves the item only once the writer's own range has passed it, and later
admissions' ranges only start later, so none of them misses it. A released admission (it sent
nothing) drops out of the count; the argument holds for those that remain.

The guard slice is for the way from here to the provider: the guarantee is about admissions,
and messages reach the provider a little later, each after its own delay. With one guard
slice, `limit + 1` admissions are more than W + b apart, so deliveries stay within the limit
as long as their delays differ by less than b (100 ms for a second, 15 min for a day). The
price: at full demand a window lets `limit` through every W to W + 2b.

A refusal says when a slot frees up (`Retry-After`): when the oldest counted slices it must
wait for leave the counted range. What a send took comes back to it as a `Reservation`, so a
request refused after it (by another limit, say) can give exactly that back. Items expire
through the table's TTL (`expires_at`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Attr

from core.access.model import RateLimits
from core.access.quota import Quota
from core.access.reservation import Reservation
from core.errors import RateLimited
from core.storage import Item, ItemTable

logger = Logger(child=True)

# Counters are kept a little past their window, then DynamoDB's TTL removes them.
_EXPIRY_GRACE_SECONDS = 3600

# A sliding window's slices: how many make the window, and how many more are counted behind
# them as a guard for the way to the provider (see above).
_SLICES = {"second": 10, "minute": 60, "day": 96}
_GUARD_SLICES = 1
# Conflicting writes to one subject's item before giving up (each conflict is another
# worker's admission or release going through: the subject is never stuck, only busy).
_ATTEMPTS = 12
_BACKOFF_SECONDS = 0.004
_jitter = random.SystemRandom()

Counts = dict[int, int]  # slice number -> admissions counted in it


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
                raise RateLimited(
                    f"Rate limit of {limit} per {window} reached; retry after"
                    f" {reset_at - math.floor(now)} seconds.",
                    retry_after=max(1, math.ceil(reset_at - now)),
                    quota=Quota(limit, 0, reset_at),
                    context={"window": window, "limit": limit},
                )
            taken.append(counter)
            quotas.append(Quota(limit, limit - hits, start + seconds))
        tightest = min(quotas, key=lambda quota: quota.remaining) if quotas else None
        return Reservation(tightest, tuple(taken), self._give_back)

    def _take(self, counter: str, limit: int, *, expires_at: int) -> int | None:
        """The counter's new value, or None when it is already at `limit`."""
        item = self._table.update(
            counter,
            set={"expires_at": expires_at},
            add={"hits": 1},
            only_if=Attr("hits").not_exists() | Attr("hits").lt(limit),
        )
        return None if item is None else _integer(item["hits"])

    def _give_back(self, counter: str) -> None:
        # Only to a counter still there: one its window's expiry removed stays removed.
        self._table.update(counter, add={"hits": -1}, only_if=Attr(self._table.key).exists())

    # --- sliding windows: a provider's limits ---------------------------------------------

    def consume_sliding(self, subject: str, limits: RateLimits) -> Reservation:
        """Take one from each of `subject`'s sliding windows, or raise `RateLimited` taking
        nothing: no window of any of its lengths ever lets more than its limit through."""
        windows = [_Window.of(name, seconds, limit) for name, seconds, limit in limits.windows()]
        if not windows:
            return Reservation(None, (), _nothing_to_give_back)
        key = f"{subject}#sliding"
        for attempt in range(_ATTEMPTS):
            now_ms = round(self._clock() * 1000)
            tally = _Tally.read(self._table, key)
            slices = {w.name: w.slice_for(tally.counts(w.name), now_ms) for w in windows}
            waits = [
                (free_at, window)
                for window in windows
                if (free_at := window.free_at(tally.counts(window.name), slices[window.name]))
                is not None
            ]
            if waits:
                # The window that frees up last is the one to wait for.
                free_at, window = max(waits, key=lambda wait: wait[0])
                raise _refusal(window, now_ms, free_at)
            quotas = []
            for window in windows:
                counts = window.counted(tally.counts(window.name), slices[window.name])
                counts[slices[window.name]] = counts.get(slices[window.name], 0) + 1
                tally.windows[window.name] = counts
                quotas.append(window.quota(counts, slices[window.name]))
            tally.windows = {w.name: tally.windows[w.name] for w in windows}
            tally.expires_at = max(w.expiry(slices[w.name]) for w in windows)
            if tally.write(self._table, key):
                tightest = min(quotas, key=lambda quota: quota.remaining)
                return Reservation(tightest, (key,), partial(self._give_back_sliding, taken=slices))
            _back_off(attempt)
        # Conservative: a refusal is never more than the limit, and the wait is short.
        logger.warning("rate limit item too contended", extra={"subject": subject})
        raise _refusal(windows[0], now_ms, now_ms + 1000, busy=True)

    def sliding_wait(self, subject: str, limits: RateLimits) -> float:
        """Seconds until `subject`'s sliding windows would let one more through (0: now), as
        the item stands; takes nothing."""
        windows = [_Window.of(name, seconds, limit) for name, seconds, limit in limits.windows()]
        if not windows:
            return 0.0
        now_ms = round(self._clock() * 1000)
        tally = _Tally.read(self._table, f"{subject}#sliding")
        free = [
            free_at
            for window in windows
            if (
                free_at := window.free_at(
                    tally.counts(window.name), window.slice_for(tally.counts(window.name), now_ms)
                )
            )
            is not None
        ]
        return max(0.0, (max(free) - now_ms) / 1000) if free else 0.0

    def _give_back_sliding(self, key: str, taken: dict[str, int]) -> None:
        """One admission less in the slices it was counted in (if they still count at all)."""
        for attempt in range(_ATTEMPTS):
            tally = _Tally.read(self._table, key)
            changed = False
            for name, index in taken.items():
                counts = tally.windows.get(name, {})
                if counts.get(index, 0) > 0:
                    counts[index] -= 1
                    changed = True
            if not changed or tally.write(self._table, key):
                return
            _back_off(attempt)
        # Over-counting until the slice leaves the window: slower, never over the limit.
        logger.warning("rate limit allowance not given back", extra={"counter": key})


@dataclass(frozen=True)
class _Window:
    """One sliding window of a subject: its limit and how its time is sliced (milliseconds)."""

    name: str
    limit: int
    slice_ms: int
    span: int  # slices counted behind the current one: the window's own and the guard

    @classmethod
    def of(cls, name: str, seconds: int, limit: int) -> _Window:
        slices = _SLICES[name]
        return cls(name, limit, seconds * 1000 // slices, slices + _GUARD_SLICES)

    def slice_for(self, counts: Counts, now_ms: int) -> int:
        """The slice an admission now falls in: never one older than the newest written."""
        return max(now_ms // self.slice_ms, max(counts, default=0))

    def counted(self, counts: Counts, current: int) -> Counts:
        """The slices an admission in `current` counts (the rest can never count again)."""
        # Emptied slices stay until they age out: the newest written must stay the newest.
        return {index: n for index, n in counts.items() if index >= current - self.span}

    def free_at(self, counts: Counts, current: int) -> int | None:
        """None if one more may go in `current`; else when (ms) one may: when enough of the
        oldest counted slices have left the range."""
        counted = self.counted(counts, current)
        used = sum(counted.values())
        oldest = sorted(counted)
        while used >= self.limit:
            index = oldest.pop(0)
            used -= counted[index]
            if used < self.limit:
                return self._leaves(index)
        return None

    def quota(self, counts: Counts, current: int) -> Quota:
        """Where the window stands after an admission in `current`."""
        counted = self.counted(counts, current)
        return Quota(
            self.limit,
            max(0, self.limit - sum(counted.values())),
            math.ceil(self._leaves(min(i for i, n in counted.items() if n)) / 1000),
        )

    def expiry(self, current: int) -> int:
        """When (epoch seconds) the item may go: every slice it holds has left the range."""
        return math.ceil(self._leaves(current) / 1000) + _EXPIRY_GRACE_SECONDS

    def _leaves(self, index: int) -> int:
        """The moment (ms) slice `index` stops being counted."""
        return (index + self.span + 1) * self.slice_ms


@dataclass
class _Tally:
    """A subject's sliding-window item: counts per window and slice, and its version."""

    version: int | None
    windows: dict[str, Counts]
    expires_at: int = 0

    @classmethod
    def read(cls, table: ItemTable, key: str) -> _Tally:
        item = table.get(key)
        if item is None:
            return cls(None, {})
        return cls(
            _integer(item["version"]),
            {
                name: {int(index): _integer(n) for index, n in counts.items()}
                for name, counts in item["windows"].items()
            },
            _integer(item["expires_at"]),
        )

    def counts(self, name: str) -> Counts:
        return self.windows.get(name, {})

    def write(self, table: ItemTable, key: str) -> bool:
        """Store this tally, unless another writer changed the item since it was read."""
        item: Item = {
            table.key: key,
            "version": (self.version or 0) + 1,
            "windows": {
                name: {str(index): n for index, n in counts.items()}
                for name, counts in self.windows.items()
            },
            "expires_at": self.expires_at,
        }
        return table.put_versioned(item, self.version)


def _integer(value: object) -> int:
    assert isinstance(value, Decimal)  # a DynamoDB number
    return int(value)


def _refusal(window: _Window, now_ms: int, free_at_ms: int, *, busy: bool = False) -> RateLimited:
    """429, saying when (`free_at_ms`) one more may go."""
    wait = max(1, math.ceil((free_at_ms - now_ms) / 1000))
    return RateLimited(
        (
            f"Too many concurrent sends against the limit of {window.limit} per {window.name};"
            if busy
            else f"Rate limit of {window.limit} per {window.name} reached;"
        )
        + f" retry after {wait} seconds.",
        retry_after=wait,
        quota=Quota(window.limit, 0, math.ceil(free_at_ms / 1000)),
        context={"window": window.name, "limit": window.limit},
        wait_seconds=max(0.0, (free_at_ms - now_ms) / 1000),
    )


def _back_off(attempt: int) -> None:
    """A short, random wait, so that writers which just collided do not collide again."""
    time.sleep(_jitter.uniform(0, _BACKOFF_SECONDS * 2 ** min(attempt, 4)))


def _nothing_to_give_back(_counter: str) -> None:
    return None
