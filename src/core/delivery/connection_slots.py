"""A service's connection limit across every worker at once: leased slots in DynamoDB.

`max_connections` bounds the lanes of one worker invocation, but Lambda runs several workers
side by side (up to `WorkerMaxConcurrency`), and a provider counts every connection it sees.
So a service's limit N is N slots, items `connections:<service>#0` .. `#N-1` in the rate-limits
table, each held by at most one holder until its `expires_at`. A worker takes a slot with one
conditional write (free: no holder, or the holder's time is up) before its lane opens a
connection, and frees it once the lane's connections are closed; it runs as many lanes as it
got slots, and one that got none leaves its jobs for later. A worker that dies holding slots
frees them when their time is up: a hold lasts a little past the invocation's own time, and a
worker's connections never outlive its invocation (the courier closes them when its batch
ends), so no connection is open without its slot.

The slots are taken lowest first, so a limit lowered from 4 to 2 stops new holders of #2 and #3
at once; those held there end with their holders' batches.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Attr

from core.storage import ItemTable

logger = Logger(child=True)

# A hold lasts this much past what its holder expects to need (the invocation's time left).
HOLD_GRACE_SECONDS = 30


@dataclass
class HeldSlots:
    """The slots one worker holds for one service; `release` frees them (once)."""

    service: str
    indexes: tuple[int, ...]
    _free: Callable[[HeldSlots], None] = field(repr=False)
    holder: str = ""

    @property
    def count(self) -> int:
        return len(self.indexes)

    def release(self) -> None:
        if self.indexes:
            self._free(self)
            self.indexes = ()


class ConnectionSlots:
    """Take and free a service's connection slots (see the module's docstring)."""

    def __init__(self, table: ItemTable, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def take(self, service: str, wanted: int, *, limit: int, hold_seconds: float) -> HeldSlots:
        """Up to `wanted` of the service's `limit` slots, each held for `hold_seconds` (plus a
        grace); fewer, or none, when other workers hold the rest."""
        holder = uuid.uuid4().hex
        now = self._clock()
        until = math.ceil(now + hold_seconds + HOLD_GRACE_SECONDS)
        taken: list[int] = []
        for index in range(limit):
            if len(taken) >= wanted:
                break
            free = (
                Attr(self._table.key).not_exists()
                | Attr("expires_at").lt(math.floor(now))
                | Attr("holder").not_exists()
            )
            written = self._table.update(
                _key(service, index),
                set={"holder": holder, "expires_at": until},
                only_if=free,
            )
            if written is not None:
                taken.append(index)
        if len(taken) < wanted:
            logger.info(
                "connection slots held elsewhere",
                extra={"email_service": service, "wanted": wanted, "taken": len(taken)},
            )
        return HeldSlots(service, tuple(taken), self._free, holder)

    def _free(self, held: HeldSlots) -> None:
        """Each slot back, if it is still this holder's (one whose time ran out and that
        someone else took since is theirs now)."""
        for index in held.indexes:
            try:
                self._table.update(
                    _key(held.service, index),
                    remove=("holder",),
                    only_if=Attr("holder").eq(held.holder),
                )
            except Exception:  # it frees itself when its time is up
                logger.warning(
                    "connection slot not freed",
                    extra={"email_service": held.service, "slot": index},
                    exc_info=True,
                )


def _key(service: str, index: int) -> str:
    return f"connections:{service}#{index}"
