"""What a rate-limit admission took (`Reservation`), apart from the DynamoDB counters that
took it (`core.access.rate_limit`): the send path holds one, and gives it back if the request
is refused later, without knowing where the counters live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.access.quota import Quota


@dataclass
class Reservation:
    """What one `consume` took: the counters to give back if the request is refused later."""

    quota: Quota | None
    counters: tuple[str, ...]
    # The limiter's own way to give one counter back (it knows the table; the holder need not).
    _give_back: Callable[[str], None] = field(repr=False)
    _released: bool = field(default=False, repr=False)

    def release(self) -> None:
        """Give back what was taken (once, however often called): the request used nothing."""
        if self._released:
            return
        self._released = True
        for counter in self.counters:
            self._give_back(counter)
