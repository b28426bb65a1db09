"""A service's connection limit across every worker at once: leased slots in DynamoDB.

`max_connections` bounds the lanes of one worker invocation, but Lambda runs several workers
side by side (up to `WorkerMaxConcurrency`), and a provider counts every connection it sees.
So a service's limit N is N slots, items `connections:<service>#0` .. `#N-1` in the rate-limits
table, each held by at most one holder until its `expires_at`. A worker takes a slot with one
conditional write (free: no holder, or the holder's time is up) before its lane opens a
connection, and frees it once the lane's connections are closed; it runs as many lanes as it
got slots. One that got none, and has nothing else in its batch to send meanwhile, waits a
little for a slot to come free (`take_any`: a worker's batch usually takes a second or so, and
a dead holder's slot frees itself within a hold); one that still has none then leaves its jobs
for later. A worker's connections never outlive its batch (the courier closes them when the
batch ends), so no connection is open without its slot.

A hold is short (`HOLD_SECONDS`) and renewed by the holder's lanes between messages, at most
every `RENEW_EVERY_SECONDS`, so a worker that dies holding slots (killed, timed out, its whole
stack restarted) blocks the service's others for one hold at most, not for its whole
invocation's time (a full CI run saw a service wait two and a half minutes after a crash when
holds lasted the invocation). A single message that takes longer than a hold (a stalled
server, up to the SMTP timeout) can let another worker take its slot meanwhile: the limit is
then one over for that while, a soft bound rather than a lost message. Hosts' clocks may
differ by a little: a hold is several renewals long.

The slots are taken lowest first, so a limit lowered from 4 to 2 stops new holders of #2 and #3
at once; those held there end with their holders' batches.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from boto3.dynamodb.conditions import Attr

from core.storage import ItemTable

logger = Logger(child=True)

# Every slot's item id starts so: `connections:<service>#<index>`.
KEY_PREFIX = "connections:"

# How long a slot is held without a renewal, and how often its holder renews it at most.
HOLD_SECONDS = 6
RENEW_EVERY_SECONDS = 2
# How long a worker with nothing else to send waits at most for a slot (its invocation allowing),
# looking again after FIRST_LOOK_SECONDS, then twice as long each time up to
# LONGEST_LOOK_SECONDS: the slot that another worker's batch frees when it ends (a batch takes a
# second or two), or a dead holder's when its hold runs out (HOLD_SECONDS, each end rounded to
# the whole second it is stored in). Without the wait, the workers that lost a race for the
# slots all came back together 5 s later, and lost it again together: full CI runs saw messages
# still queued half a minute after a restart. Not longer: a waiting worker is one of the
# queue's concurrent workers (WorkerMaxConcurrency) that the other services' messages cannot
# have meanwhile. Each look costs one conditional write a slot.
PATIENCE_SECONDS = HOLD_SECONDS + 4
FIRST_LOOK_SECONDS = 0.05
LONGEST_LOOK_SECONDS = 0.5


@dataclass
class HeldSlots:
    """The slots one worker holds for one service: renewed by its lanes (`renew_if_due`),
    freed by `release` (once)."""

    service: str
    indexes: tuple[int, ...]
    _free: Callable[[HeldSlots], None] = field(repr=False)
    holder: str = ""
    _renew: Callable[[HeldSlots], None] | None = field(default=None, repr=False)
    _renewed_at: float = field(default_factory=time.monotonic, repr=False)
    _renewing: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def count(self) -> int:
        return len(self.indexes)

    def renew_if_due(self) -> None:
        """Hold the slots for another `HOLD_SECONDS` when the last renewal is
        `RENEW_EVERY_SECONDS` old; a lane finding another lane renewing goes on."""
        if self._renew is None or not self.indexes:
            return
        if time.monotonic() - self._renewed_at < RENEW_EVERY_SECONDS:
            return
        if not self._renewing.acquire(blocking=False):
            return
        try:
            self._renew(self)
            self._renewed_at = time.monotonic()
        finally:
            self._renewing.release()

    def release(self) -> None:
        if self.indexes:
            self._free(self)
            self.indexes = ()


@dataclass(frozen=True)
class Wanted:
    """Slots a batch would use for a service: `count` lanes, of the service's `limit`."""

    service: str
    count: int
    limit: int


class ConnectionSlots:
    """Take and free a service's connection slots (see the module's docstring)."""

    def __init__(
        self,
        table: ItemTable,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._table = table
        self._clock = clock
        self._sleep = sleep

    def take_any(self, wanted: Sequence[Wanted], *, patience: float) -> list[HeldSlots]:
        """Each service's slots (as `take`, in `wanted`'s order), looking again and again for
        up to `patience` seconds until at least one service got one; every one empty when
        none came free in that time."""
        waited, pause = 0.0, FIRST_LOOK_SECONDS
        while True:
            held = self._take_each(wanted)
            # The pauses add up to the patience (the looks themselves take a few ms more): no
            # clock to read, so none that jumps can stretch the wait.
            if any(slots.count for slots in held) or waited + pause > patience:
                return held
            self._sleep(pause)
            waited += pause
            pause = min(2 * pause, LONGEST_LOOK_SECONDS)

    def _take_each(self, wanted: Sequence[Wanted]) -> list[HeldSlots]:
        """One look for each service's slots. When the store fails part way, the slots this
        look took already are freed before the failure goes up: the caller never saw them,
        and they would block the service for a hold."""
        held: list[HeldSlots] = []
        try:
            for each in wanted:
                held.append(self.take(each.service, each.count, limit=each.limit))
        except Exception:
            for slots in held:
                slots.release()
            raise
        return held

    def take(self, service: str, wanted: int, *, limit: int) -> HeldSlots:
        """Up to `wanted` of the service's `limit` slots, held (and renewed) until released;
        fewer, or none, when other workers hold the rest."""
        holder = uuid.uuid4().hex
        now = self._clock()
        until = math.ceil(now + HOLD_SECONDS)
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
            logger.debug(
                "connection slots held elsewhere",
                extra={"email_service": service, "wanted": wanted, "taken": len(taken)},
            )
        return HeldSlots(service, tuple(taken), self._free, holder, self._renew)

    def _renew(self, held: HeldSlots) -> None:
        """Each slot held for another `HOLD_SECONDS`, if it is still this holder's."""
        until = math.ceil(self._clock() + HOLD_SECONDS)
        for index in held.indexes:
            try:
                self._table.update(
                    _key(held.service, index),
                    set={"expires_at": until},
                    only_if=Attr("holder").eq(held.holder),
                )
            except Exception:  # the next renewal tries again; a lost slot is someone else's
                logger.warning(
                    "connection slot not renewed",
                    extra={"email_service": held.service, "slot": index},
                    exc_info=True,
                )

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
    return f"{KEY_PREFIX}{service}#{index}"
