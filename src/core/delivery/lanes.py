"""Which connections a worker's batch may use: each service's jobs dealt out to lanes.

A service's jobs go round to up to its `max_connections` lanes (the first to the first lane,
the second to the second, and so on round); the courier runs each lane in a thread of its own,
sending its jobs in order on a connection of its own. A paced service (`max_send_rate`) keeps
to one lane: its pace is taken as each message is handed over (`core.delivery.handover_pace`),
which holds it exactly on one connection; over several, lanes that a busy machine delays
unevenly between the unit and the final dot put 6 into one second of a pace of 5 at the
server (seen in a test under load, past the limiter's 100 ms margin). Pace before speed.

With connection slots (`core.delivery.connection_slots`) the limit holds across workers: a
lane needs one of the service's slots, and a batch that got fewer runs fewer lanes. When no
service of the batch got one, the worker has nothing else to send: it waits for a slot to come
free, as long as its invocation allows (`patience`). The jobs of a service still without a
slot, or whose slots could not be taken at all, are the courier's to send back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from core.delivery.connection_slots import ConnectionSlots, HeldSlots, Wanted
from core.delivery.job import Job
from core.ports import ServiceStore

logger = Logger(child=True)


@dataclass
class Dealt:
    """A batch's positions, dealt: `lanes` to send now, each in order; `without_slot`, whose
    service got no connection slot; `crashed`, whose slots could not be taken (the store did
    not answer), with the error."""

    lanes: list[list[int]] = field(default_factory=list)
    without_slot: list[int] = field(default_factory=list)
    crashed: dict[int, Exception] = field(default_factory=dict)


class LaneDealer:
    def __init__(self, services: ServiceStore, slots: ConnectionSlots | None) -> None:
        self._services = services
        self._slots = slots

    def deal(self, batch: Sequence[Job], held: list[HeldSlots], *, patience: float) -> Dealt:
        """The batch's positions, dealt out to lanes: each service's jobs round to as many
        lanes as it allows connections at once (and has jobs), and, with connection slots, as
        it got slots for. The slots go to `held` as soon as they are taken, for the caller to
        free when the batch ends, whatever happens meanwhile; when none was free for any
        service, it waits up to `patience` seconds for one."""
        by_service: dict[str, list[int]] = {}
        for index, job in enumerate(batch):
            by_service.setdefault(job.service, []).append(index)
        wanted: list[Wanted] = []
        for name, positions in by_service.items():
            count, limit = self._connections_allowed(name)
            wanted.append(Wanted(name, min(count, len(positions)), limit))
        if self._slots is None:
            lanes = [_round(by_service[each.service], each.count) for each in wanted]
            return Dealt([lane for service in lanes for lane in service])
        dealt = Dealt()
        without: list[Wanted] = []  # the services that got no slot yet
        for each in wanted:
            slots = self._take([each], 0, by_service, dealt)
            held += slots
            dealt.lanes += _lanes(slots, by_service)
            without += [each for slot in slots if slot.count == 0]
        if without and not dealt.lanes and patience > 0:
            waited = self._take(without, patience, by_service, dealt)
            held += waited
            dealt.lanes += _lanes(waited, by_service)
            without = [each for each in without if each.service not in _served(waited)]
        for each in without:
            if by_service[each.service][0] in dealt.crashed:
                continue
            logger.info(
                "no connection slot free: the jobs come back",
                extra={"email_service": each.service},
            )
            dealt.without_slot += by_service[each.service]
        dealt.without_slot.sort()
        return dealt

    def _take(
        self,
        wanted: list[Wanted],
        patience: float,
        by_service: dict[str, list[int]],
        dealt: Dealt,
    ) -> list[HeldSlots]:
        """The services' slots (see `ConnectionSlots.take_any`); when the store does not
        answer, none, and their jobs go to `dealt.crashed`."""
        assert self._slots is not None
        try:
            return self._slots.take_any(wanted, patience=patience)
        except Exception as error:
            logger.exception(
                "connection slots not taken",
                extra={"email_services": [each.service for each in wanted]},
            )
            for each in wanted:
                dealt.crashed.update({index: error for index in by_service[each.service]})
            return []

    def _connections_allowed(self, name: str) -> tuple[int, int]:
        """How many lanes the service may use (one when paced: see the module's docstring),
        and how many connection slots it has (its `max_connections`). When it cannot be
        read, one lane on its first slot (one of its slots whatever its limit), each job's own
        turn meeting whatever is wrong with it, as for any job."""
        try:
            config = self._services.by_name(name).config
        except Exception:
            logger.debug("service not read for its lanes", extra={"email_service": name})
            return 1, 1
        lanes = 1 if config.max_send_rate is not None else config.max_connections
        return lanes, config.max_connections


def _round(positions: list[int], count: int) -> list[list[int]]:
    """`positions` dealt round to `count` lanes."""
    return [positions[lane::count] for lane in range(count)]


def _lanes(slots: list[HeldSlots], by_service: dict[str, list[int]]) -> list[list[int]]:
    """Each service's positions round to as many lanes as it holds slots."""
    return [lane for held in slots for lane in _round(by_service[held.service], held.count)]


def _served(slots: list[HeldSlots]) -> set[str]:
    return {held.service for held in slots if held.count}
