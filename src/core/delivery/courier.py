"""The worker's side of a batch of queued messages: each job's attempt (`core.delivery.attempt`),
the outcomes in the jobs' order.

A service's jobs are dealt out to lanes (`core.delivery.lanes`), threads that send side by side,
each on a connection of its own and each in order: before a message is sent, the job after it is
looked at, and when it goes to the same service its envelope is written behind this one's final
dot (about one round trip a message a lane). A lane needs one of the service's connection slots;
jobs whose service got none come back a little later, as their own SQS messages. The service's
connections close when the batch ends, before its slots are freed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass
from datetime import datetime

from core.delivery.attempt import Attempts, LookedAhead, Outcome, Ready
from core.delivery.connection_slots import PATIENCE_SECONDS as SLOT_PATIENCE_SECONDS
from core.delivery.connection_slots import ConnectionSlots, HeldSlots
from core.delivery.deliver import Deliverer
from core.delivery.job import Job
from core.delivery.lanes import LaneDealer
from core.ports import ServiceStore
from core.transport.base import Deadline

# A service's jobs that found all its connection slots held by other workers come back after
# this long: the same SQS messages, made visible again (not an attempt).
NO_SLOT_WAIT_SECONDS = 5


@dataclass(frozen=True)
class Crashed:
    """A job of a batch whose step raised (a store that did not answer, say): its SQS message
    is left to come back, as a lone job's exception leaves it; the batch goes on."""

    error: Exception


class Courier:
    """A worker's batches: each job attempted in a lane (see the module's docstring)."""

    def __init__(
        self,
        attempts: Attempts,
        services: ServiceStore,
        deliverer: Deliverer,
        *,
        min_seconds_to_start: float = 0,
        connection_slots: ConnectionSlots | None = None,
    ) -> None:
        self._attempts = attempts
        self._deliverer = deliverer
        self._min_seconds_to_start = min_seconds_to_start
        self._dealer = LaneDealer(services, connection_slots)

    def process(self, job: Job, deadline: Deadline, *, now: datetime | None = None) -> Outcome:
        """One attempt at `job` (as of `now`, by default the clock's), and what comes next."""
        return self._attempts.process(job, deadline, now=now)

    def process_each(
        self,
        jobs: Iterable[Job],
        deadline: Callable[[], Deadline],
        *,
        answer_by: Deadline | None = None,
    ) -> Iterator[Outcome | Crashed]:
        """One attempt at each job, the outcomes in the jobs' order; `deadline()` gives each
        step its own, and `answer_by` is when the invocation must answer (how long it may
        wait for a connection slot; without it, the first step's deadline).

        A service's jobs are dealt out to lanes (`core.delivery.lanes`): up to its
        `max_connections` threads, each sending its jobs in order on a connection of its own,
        so a batch takes about that many times less time; with `connection_slots`, only as
        many as it holds slots for across workers (a batch with nothing else to send waits for
        one). Jobs whose service got no slot come back later (`NO_SLOT_WAIT_SECONDS`: the
        same SQS messages, not an attempt). The service's
        connections are closed when the batch ends, before its slots are freed, so none is
        ever open without one. Every rule of a single attempt holds in a lane: each job is
        claimed, checked and settled by the lane that sends it.
        """
        batch = list(jobs)
        outcomes: dict[int, Outcome | Crashed] = {}
        held: list[HeldSlots] = []
        try:
            dealt = self._dealer.deal(
                batch, held, patience=self._slot_patience(deadline, answer_by)
            )
            outcomes.update({index: Crashed(error) for index, error in dealt.crashed.items()})
            outcomes.update(
                {index: self._no_connection(batch[index]) for index in dealt.without_slot}
            )
            lanes = dealt.lanes
            if len(lanes) == 1 and len(lanes[0]) == len(batch):
                # One lane for the whole batch: each outcome as soon as it is known, and the
                # next job untouched until its turn (see `_in_lane`). The batch ends with its
                # last outcome: the caller need not ask for one more.
                for position, outcome in enumerate(self._in_lane(batch, deadline, held)):
                    if position == len(batch) - 1:
                        self._end_batch(held)
                    yield outcome
                return
            outcomes.update(self._run_lanes(batch, lanes, deadline, held))
        finally:
            self._end_batch(held)
        for index in range(len(batch)):
            yield outcomes[index]

    def _slot_patience(self, deadline: Callable[[], Deadline], answer_by: Deadline | None) -> float:
        """How long the batch may wait for a connection slot: while a message could still
        start after it (a job that could not is a hop, and loses nothing)."""
        left = (answer_by or deadline()).remaining()
        return min(SLOT_PATIENCE_SECONDS, left - self._min_seconds_to_start)

    def _end_batch(self, held: list[HeldSlots]) -> None:
        """Close the batch's connections, then free the slots they held."""
        while held:
            slots = held.pop()
            self._deliverer.close_idle(slots.service)
            slots.release()

    def _run_lanes(
        self,
        batch: list[Job],
        lanes: list[list[int]],
        deadline: Callable[[], Deadline],
        held: Sequence[HeldSlots],
    ) -> dict[int, Outcome | Crashed]:
        """Each lane's jobs in order; the lanes side by side, each in a thread of its own."""
        if len(lanes) <= 1:
            return {
                index: outcome
                for lane in lanes
                for index, outcome in zip(
                    lane, self._in_lane([batch[i] for i in lane], deadline, held), strict=True
                )
            }
        outcomes: dict[int, Outcome | Crashed] = {}
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="lane") as executor:
            # Each lane runs in a copy of this context: what the caller set up around the batch
            # (the message events held until its end) holds in the lanes too.
            runs = [
                executor.submit(
                    copy_context().run,
                    self._lane_outcomes,
                    [batch[i] for i in lane],
                    deadline,
                    held,
                )
                for lane in lanes
            ]
            for lane, run in zip(lanes, runs, strict=True):
                outcomes.update(zip(lane, run.result(), strict=True))
        return outcomes

    def _no_connection(self, job: Job) -> Outcome | Crashed:
        """A job whose service's connections are all in use by other workers comes back a
        little later; waiting for a connection is not an attempt."""
        try:
            return self._attempts.come_back_later(job, NO_SLOT_WAIT_SECONDS)
        except Exception as error:
            return Crashed(error)

    def _lane_outcomes(
        self, jobs: list[Job], deadline: Callable[[], Deadline], held: Sequence[HeldSlots]
    ) -> list[Outcome | Crashed]:
        return list(self._in_lane(jobs, deadline, held))

    def _in_lane(
        self,
        jobs: Iterable[Job],
        deadline: Callable[[], Deadline],
        held: Sequence[HeldSlots] = (),
    ) -> Iterator[Outcome | Crashed]:
        """The jobs one after another, on one connection a service.

        Before a message is sent, the job after it is looked at: when it goes to the same
        service, it is sealed then, and named to the transport as the next message (`then`),
        which can write its envelope behind this one's final dot: a lane costs about one
        round trip a message. It is claimed and checked only at its own turn, reusing those
        sealed bytes, so a worker that dies in the middle of a batch leaves it to SQS's
        redelivery as it was, never claimed by a send that did not happen.
        """
        pending = iter(jobs)
        job = next(pending, None)
        ahead: LookedAhead | None = None  # the job, when it was looked at ahead
        while job is not None:
            for slots in held:  # the service's hold, renewed between its messages
                if slots.service == job.service:
                    slots.renew_if_due()
            following = next(pending, None)
            outcome, ahead = self._in_batch(job, following, ahead, deadline)
            yield outcome
            job = following

    def _in_batch(
        self,
        job: Job,
        following: Job | None,
        ahead: LookedAhead | None,
        deadline: Callable[[], Deadline],
    ) -> tuple[Outcome | Crashed, LookedAhead | None]:
        """`job`'s outcome, and `following` if it was looked at (and announced)."""
        try:
            step = self._attempts.prepare(job, deadline(), ahead=ahead)
            if not isinstance(step, Ready):
                return step, None
            following_ahead = self._attempts.look_ahead(following, step.service)
            if following_ahead is None:
                return self._attempts.attempt(step, deadline()), None
            return self._attempts.attempt(
                step, deadline(), then=following_ahead.outgoing
            ), following_ahead
        except Exception as error:
            return Crashed(error), None
