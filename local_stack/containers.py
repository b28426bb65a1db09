"""Lambda's containers, played locally: a pool per function, invocations side by side.

Lambda runs a function's invocations in separate containers (execution environments), each
running one invocation at a time, and the handlers rely on it: Powertools' resolver and logger
keep the current event in module-level state, and `core/runtime.py` caches its objects per
module. So the local stack gives each function a pool of containers, one OS process each
(`local_stack.container_process`), and schedules them as Lambda does:

- an invocation goes to the most recently idle container (last in, first out), so warm state,
  caches and open connections are reused and the other containers stay cold or idle;
- with none idle, a new container is started (a cold start), up to the function's concurrency;
- past that, the invocation waits for a container to come free; Lambda would throttle it
  (429) instead, but a developer's burst of requests should queue, not fail;
- a container that crashed or timed out is thrown away; the next cold start replaces it.

`ContainerPool` is the scheduling alone, over any container type, so unit tests drive it with
fakes; `FunctionContainers` is a pool of container processes for one `LocalFunction`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, Protocol, TypeVar

from local_stack.container_process import (
    STOP_GRACE_SECONDS,
    ContainerLost,
    FunctionError,
    ProcessContainer,
    lambda_error,
)
from local_stack.functions import LocalFunction


class Container(Protocol):
    def stop(self, *, busy: bool) -> None:
        """Ask the container to end, without waiting; `busy`: an invocation runs in it now."""

    def join(self, timeout: float = ...) -> None:
        """Wait for the container to end, killing it after `timeout`."""


C = TypeVar("C", bound=Container)


class PoolStopped(Exception):
    """The pool is stopping: no container for this invocation."""


class ContainerPool(Generic[C]):
    """At most `limit` containers from `start`, handed out one invocation at a time, LIFO."""

    def __init__(self, start: Callable[[], C], limit: int) -> None:
        if limit < 1:
            raise ValueError(f"A pool needs room for one container at least, not {limit}.")
        self.limit = limit
        self._start = start
        self._changed = threading.Condition()
        self._idle: list[C] = []  # the most recently idle last
        self._busy: list[C] = []
        self._starting = 0  # slots taken by cold starts under way
        self._stopping = False
        self._stopped: list[C] = []  # asked to end by `stop()`, for `join()`

    @property
    def size(self) -> int:
        """Containers alive or starting."""
        with self._changed:
            return len(self._idle) + len(self._busy) + self._starting

    @property
    def idle(self) -> int:
        with self._changed:
            return len(self._idle)

    @contextmanager
    def container(self) -> Iterator[C]:
        """A container for one invocation; it goes back to the pool afterwards, or, when the
        invocation raised `ContainerLost` (it crashed or was killed), it is thrown away."""
        container = self.acquire()
        try:
            yield container
        except ContainerLost:
            self.discard(container)
            raise
        except BaseException:
            # Whatever went wrong, it was not the container: it keeps its warm state.
            self.release(container)
            raise
        self.release(container)

    def acquire(self) -> C:
        """The most recently idle container, else a cold start, else the next one freed.
        `PoolStopped` once `stop()` was called."""
        with self._changed:
            while True:
                if self._stopping:
                    raise PoolStopped
                if self._idle:
                    container = self._idle.pop()
                    self._busy.append(container)
                    return container
                if len(self._busy) + self._starting < self.limit:
                    self._starting += 1
                    break
                self._changed.wait()
        # The cold start runs outside the lock: others may get warm containers meanwhile.
        try:
            container = self._start()
        except BaseException:
            with self._changed:
                self._starting -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._starting -= 1
            self._busy.append(container)
            stopping = self._stopping
        if stopping:  # stopped during the cold start: it never got the chance to be stopped
            self.discard(container)
            raise PoolStopped
        return container

    def release(self, container: C) -> None:
        """`container` finished its invocation and is ready for the next one."""
        with self._changed:
            self._remove_busy(container)
            if not self._stopping:
                self._idle.append(container)
                self._changed.notify()
                return
        container.stop(busy=False)
        container.join()

    def discard(self, container: C) -> None:
        """`container` is gone or broken: end it and free its slot for a new one."""
        with self._changed:
            self._remove_busy(container)
            self._changed.notify()
        container.stop(busy=False)
        container.join()

    def stop(self) -> None:
        """Ask every container, idle or busy, to end, and refuse further invocations; `join()`
        waits for them. Two steps, so that many pools end their containers side by side."""
        with self._changed:
            self._stopping = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._stopped += idle + busy
            self._changed.notify_all()
        for container in idle:
            container.stop(busy=False)
        for container in busy:
            container.stop(busy=True)

    def join(self, timeout: float) -> None:
        """Wait for the containers `stop()` ended, killing those still alive after `timeout`
        (counted for all of them together)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            stopped, self._stopped = self._stopped, []
        for container in stopped:
            container.join(max(0.0, deadline - time.monotonic()))

    def _remove_busy(self, container: C) -> None:
        # By identity: two containers are never equal, whatever their type says.
        self._busy = [known for known in self._busy if known is not container]


class FunctionContainers:
    """One function's pool of container processes: `invoke` is one Lambda invocation."""

    def __init__(self, function: LocalFunction, concurrency: int | None = None) -> None:
        self.function = function
        self._pool = ContainerPool(self._cold_start, concurrency or function.concurrency)
        self._stopping = False

    @property
    def concurrency(self) -> int:
        return self._pool.limit

    @property
    def size(self) -> int:
        return self._pool.size

    def invoke(self, event: Any) -> Any:
        """What the handler returned for `event`; `FunctionError` with Lambda's error payload
        when it raised, crashed, timed out or could not start."""
        request_id = str(uuid.uuid4())
        try:
            with self._pool.container() as container:
                deadline = time.monotonic() + self.function.timeout_seconds
                return container.invoke(event, request_id, deadline)
        except PoolStopped:
            # Stopping: whoever asked is going away too, so there is nothing worth logging.
            raise FunctionError(
                lambda_error("Runtime.Stopped", f"RequestId: {request_id} The stack is stopping.")
            ) from None
        except ContainerLost as lost:
            raise FunctionError(
                lambda_error(lost.error_type, f"RequestId: {request_id} Error: {lost}"),
                log=f"{self.function.name}: {lost}\n" if not self._stopping else "",
            ) from lost

    def stop(self) -> None:
        """Ask every container to end (busy ones too); `join()` waits for them."""
        self._stopping = True
        self._pool.stop()

    def join(self, timeout: float = STOP_GRACE_SECONDS) -> None:
        self._pool.join(timeout)

    def _cold_start(self) -> ProcessContainer:
        return ProcessContainer.start(self.function)
