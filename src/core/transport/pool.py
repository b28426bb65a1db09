"""A process's open transports, up to a few per service, kept from one message to the next.

Connecting, TLS and AUTH cost several round trips, most of what sending a small message takes;
a worker's batch, or a warm Lambda's next request, can skip them by sending on the connection
the last message used. The pool keeps up to the service's `max_connections` (a worker's batch
sends on that many at once: `core.delivery.courier`) and lends each to one sender at a time;
a sender beyond them meanwhile gets a one-off connection, closed after its message. A thread
gets back the connection it gave back last, if it is idle: each of the worker's lanes keeps
its own, on which it may have announced its next message already. A kept connection is closed
instead of lent again when:

- the service's connection identity changed (what its transport's kind connects with, for SMTP
  host, port, encryption, TLS checks and username; the secret's version, `updated_at`): it was
  opened with settings no longer in force;
- it has been idle longer than `idle_seconds`: servers close idle channels (SES after about
  10 s), and one found closed costs a round trip. Idle time is measured on the monotonic clock
  and the wall clock both, the larger counting: a Lambda frozen between invocations comes back
  to its connections with either one having jumped;
- it has carried `max_messages`.

A transport is given back only after a send that returned, so a kept one has no transaction
open; after any failure it is discarded (closed). Whether a send that failed on a reused
connection may go again is the caller's decision (`core.delivery.deliver`): the pool only keeps
connections. `close_all` ends them all (the local stack's processes, tests between cases).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from core.ports import Transport, TransportFactory
from core.services.model import Service
from core.transport.base import Deadline

logger = Logger(child=True)

DEFAULT_IDLE_SECONDS = 8.0
DEFAULT_MAX_MESSAGES = 100

# Seconds since some fixed point; the pool compares readings of the same clock only.
Reading = Callable[[], float]


@dataclass(frozen=True)
class ConnectionIdentity:
    """What an open connection was made with: a service whose identity differs needs another.
    `transport` is what the transport's kind says it connects with (the factory's `identity`);
    the rest is every service's."""

    type: str
    transport: Hashable
    secret_id: str | None
    secret_version: str | None
    updated_at: str

    @classmethod
    def of(cls, service: Service, transports: TransportFactory) -> ConnectionIdentity:
        return cls(
            type=str(service.type),
            transport=transports.identity(service),
            secret_id=service.secret_id,
            secret_version=service.secret_version,
            updated_at=service.updated_at,
        )


@dataclass(eq=False)
class _Connection:
    transport: Transport
    identity: ConnectionIdentity
    messages: int = 0
    # What each of the pool's clocks read when it was last given back, and by which thread.
    idle_since: tuple[float, ...] = ()
    holder: int | None = None


@dataclass(eq=False)
class Lease:
    """A transport lent for one message. `reused`: it carried a message before this one."""

    service: str
    reused: bool
    pooled: bool  # False: a one-off, closed when it comes back
    _connection: _Connection
    _generation: int = field(repr=False)

    @property
    def transport(self) -> Transport:
        return self._connection.transport


class TransportPool:
    """Open transports by service name; `take` one, then `give_back` or `discard` it.

    With `reuse` off every lease is a one-off: opened for its message, closed after it.
    `clocks` are what idle time is measured on (tests inject a fake one).
    """

    def __init__(
        self,
        transports: TransportFactory,
        *,
        reuse: bool = True,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        clocks: Sequence[Reading] = (time.monotonic, time.time),
    ) -> None:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self._transports = transports
        self._reuse = reuse
        self._idle_seconds = idle_seconds
        self._max_messages = max_messages
        self._clocks = tuple(clocks)
        # Only bookkeeping happens under the lock; opening and closing happen outside it.
        self._lock = threading.Lock()
        # By service: the connections waiting for a message (the last given back last), and
        # how many are lent out; together never more than the service's `max_connections`.
        self._idle: dict[str, list[_Connection]] = {}
        self._lent: dict[str, int] = {}
        # Bumped by `close_all`: a lease from before it is closed when it comes back.
        self._generation = 0

    @property
    def reuse(self) -> bool:
        return self._reuse

    def idle_count(self) -> int:
        """Open connections waiting for their service's next message."""
        with self._lock:
            return sum(map(len, self._idle.values()))

    def take(self, service: Service, deadline: Deadline, *, fresh: bool = False) -> Lease:
        """One of the service's kept transports if it is still good for it (unless `fresh`),
        else a newly opened one; raises the `DeliveryFailure` of opening it. All of its
        `max_connections` lent out: a one-off."""
        identity = ConnectionIdentity.of(service, self._transports)
        name = service.name
        with self._lock:
            generation = self._generation
            limit = service.config.max_connections
            busy = self._lent.get(name, 0) >= limit
            kept: _Connection | None = None
            surplus: list[_Connection] = []
            if self._reuse and not busy:
                idle = self._idle.get(name, [])
                kept = self._pick(idle, room=self._lent.get(name, 0) + len(idle) < limit)
                self._lent[name] = self._lent.get(name, 0) + 1
                # Kept beyond the limit (it was lowered since they were opened): closed.
                while idle and self._lent[name] + len(idle) > limit:
                    surplus.append(idle.pop(0))
        for connection in surplus:
            logger.info("connection closed", extra={"email_service": name, "why": "over limit"})
            connection.transport.close()
        if not self._reuse or busy:
            if busy:
                logger.debug("connection busy: a one-off", extra={"email_service": name})
            return self._open(service, identity, deadline, generation, pooled=False)
        if kept is not None:
            stale = "fresh one asked for" if fresh else self._stale(kept, identity)
            if stale is None:
                logger.debug(
                    "connection reused",
                    extra={"email_service": name, "messages": kept.messages},
                )
                return Lease(name, True, True, kept, generation)
            logger.info("connection closed", extra={"email_service": name, "why": stale})
            kept.transport.close()
        try:
            return self._open(service, identity, deadline, generation, pooled=True)
        except BaseException:
            self._release(name, generation)
            raise

    def give_back(self, lease: Lease) -> None:
        """Its message went: keep it open for the service's next one (a one-off, or one that
        reached its cap or outlived a `close_all`, is closed)."""
        connection = lease._connection
        connection.messages += 1
        if lease.pooled and connection.messages < self._max_messages:
            connection.idle_since = self._read_clocks()
            connection.holder = threading.get_ident()
            with self._lock:
                kept = lease._generation == self._generation
                if kept:
                    self._lent[lease.service] -= 1
                    self._idle.setdefault(lease.service, []).append(connection)
            if kept:
                return
        elif lease.pooled:
            logger.info(
                "connection closed",
                extra={"email_service": lease.service, "why": "message cap reached"},
            )
        self.discard(lease)

    def discard(self, lease: Lease) -> None:
        """Close it (it failed: what state it is in is anybody's guess); never raises."""
        if lease.pooled:
            self._release(lease.service, lease._generation)
        lease.transport.close()

    def close_idle(self, name: str) -> None:
        """Close the service's idle connections; those lent out stay with their senders."""
        with self._lock:
            idle = self._idle.pop(name, [])
        for connection in idle:
            connection.transport.close()

    def close_all(self) -> None:
        """Close every idle connection; those lent out are closed when they come back."""
        with self._lock:
            idle = [connection for kept in self._idle.values() for connection in kept]
            self._idle = {}
            self._lent.clear()
            self._generation += 1
        for connection in idle:
            connection.transport.close()

    # --- internals ------------------------------------------------------------------------

    def _open(
        self,
        service: Service,
        identity: ConnectionIdentity,
        deadline: Deadline,
        generation: int,
        *,
        pooled: bool,
    ) -> Lease:
        transport = self._transports(service)
        try:
            transport.open(deadline)
        except BaseException:
            transport.close()
            raise
        return Lease(service.name, False, pooled, _Connection(transport, identity), generation)

    @staticmethod
    def _pick(idle: list[_Connection], *, room: bool) -> _Connection | None:
        """Which idle connection to lend (taken off `idle`), or None for a new one: the one
        this thread gave back last (its next message may be announced on it already), else,
        with room for another, none, else the one given back last (the warmest, the least
        likely to be found closed)."""
        me = threading.get_ident()
        for index in range(len(idle) - 1, -1, -1):
            if idle[index].holder == me:
                return idle.pop(index)
        if room or not idle:
            return None
        return idle.pop()

    def _release(self, name: str, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._lent[name] -= 1

    def _stale(self, kept: _Connection, identity: ConnectionIdentity) -> str | None:
        """Why a kept connection must not carry the next message, or None."""
        if kept.identity != identity:
            return "service settings or password changed"
        idle = max(
            (now - then for now, then in zip(self._read_clocks(), kept.idle_since, strict=True)),
            default=0.0,
        )
        if idle > self._idle_seconds:
            return f"idle {idle:.1f}s, over {self._idle_seconds:g}s"
        return None

    def _read_clocks(self) -> tuple[float, ...]:
        return tuple(clock() for clock in self._clocks)
