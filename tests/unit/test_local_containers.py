"""The local stack's container pool, as Lambda schedules containers: the most recently idle one
first, cold starts up to the function's concurrency, then a wait; a lost container replaced."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

import pytest

from local_stack.container_process import ContainerLost
from local_stack.containers import ContainerPool, PoolStopped

# Long enough for a thread to reach a wait on a loaded machine; only a hang would use it all.
WAIT_SECONDS = 5.0


@dataclass(eq=False)
class FakeContainer:
    number: int
    stopped: list[bool] = field(default_factory=list)  # `busy` of each stop() call
    joined: bool = False

    def stop(self, *, busy: bool) -> None:
        self.stopped.append(busy)

    def join(self, timeout: float = 0.0) -> None:
        self.joined = True


class Starts:
    """The pool's `start`: numbered fake containers, each a cold start."""

    def __init__(self) -> None:
        self.started: list[FakeContainer] = []
        self._numbers = itertools.count(1)

    def __call__(self) -> FakeContainer:
        container = FakeContainer(next(self._numbers))
        self.started.append(container)
        return container


def test_a_warm_container_is_reused_before_any_cold_start() -> None:
    starts = Starts()
    pool = ContainerPool(starts, limit=4)

    with pool.container() as first:
        pass
    with pool.container() as second:
        pass

    assert second is first
    assert len(starts.started) == 1
    assert (pool.size, pool.idle) == (1, 1)


def test_the_most_recently_idle_container_goes_first() -> None:
    pool = ContainerPool(Starts(), limit=3)
    one, two, three = pool.acquire(), pool.acquire(), pool.acquire()

    pool.release(two)
    pool.release(one)
    pool.release(three)

    assert [pool.acquire().number for _ in range(3)] == [3, 1, 2]


def test_cold_starts_go_up_to_the_limit_then_an_invocation_waits_for_a_free_container() -> None:
    starts = Starts()
    pool = ContainerPool(starts, limit=2)
    first, second = pool.acquire(), pool.acquire()
    got: list[FakeContainer] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))

    waiter.start()
    waiter.join(0.2)
    waiting = waiter.is_alive()
    pool.release(second)
    waiter.join(WAIT_SECONDS)

    assert [c.number for c in starts.started] == [1, 2]
    assert waiting, "a third invocation must wait: the limit is 2"
    assert got == [second]
    assert first.stopped == []


def test_a_lost_container_is_thrown_away_and_the_next_invocation_gets_a_new_one() -> None:
    starts = Starts()
    pool = ContainerPool(starts, limit=1)

    with pytest.raises(ContainerLost), pool.container() as crashed:
        raise ContainerLost("Runtime exited with error: signal: killed", "Runtime.ExitError")
    with pool.container() as replacement:
        pass

    assert crashed.stopped == [False]
    assert crashed.joined
    assert replacement is not crashed
    assert len(starts.started) == 2
    assert pool.size == 1


def test_a_handler_error_keeps_the_container_warm() -> None:
    pool = ContainerPool(Starts(), limit=1)

    with pytest.raises(ValueError, match="bad event"), pool.container() as container:
        raise ValueError("bad event")

    assert container.stopped == []
    assert pool.acquire() is container


def test_a_failed_cold_start_frees_its_slot() -> None:
    calls = itertools.count()

    def start() -> FakeContainer:
        if next(calls) == 0:
            raise RuntimeError("Unable to import module")
        return FakeContainer(2)

    pool = ContainerPool(start, limit=1)

    with pytest.raises(RuntimeError, match="import"):
        pool.acquire()

    assert pool.size == 0
    assert pool.acquire().number == 2


def test_a_waiting_invocation_gets_the_slot_a_lost_container_freed() -> None:
    starts = Starts()
    pool = ContainerPool(starts, limit=1)
    crashed = pool.acquire()
    got: list[FakeContainer] = []
    waiter = threading.Thread(target=lambda: got.append(pool.acquire()))

    waiter.start()
    waiter.join(0.2)
    pool.discard(crashed)
    waiter.join(WAIT_SECONDS)

    assert [c.number for c in got] == [2]


def test_stop_ends_idle_and_busy_containers_and_refuses_new_invocations() -> None:
    pool = ContainerPool(Starts(), limit=2)
    idle, busy = pool.acquire(), pool.acquire()
    pool.release(idle)

    pool.stop()
    pool.join(timeout=1.0)

    # An idle one is asked to end; a busy one, whose invocation another thread waits on, is
    # signalled (busy=True) and its invocation then fails.
    assert (idle.stopped, idle.joined) == ([False], True)
    assert (busy.stopped, busy.joined) == ([True], True)
    with pytest.raises(PoolStopped):
        pool.acquire()
    pool.release(busy)  # its invocation ended after all: it is not kept
    assert pool.idle == 0


def test_stop_wakes_an_invocation_waiting_for_a_container() -> None:
    pool = ContainerPool(Starts(), limit=1)
    pool.acquire()
    errors: list[BaseException] = []

    def wait() -> None:
        try:
            pool.acquire()
        except PoolStopped as error:
            errors.append(error)

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(0.2)
    pool.stop()
    waiter.join(WAIT_SECONDS)

    assert not waiter.is_alive()
    assert len(errors) == 1


def test_a_pool_needs_room_for_one_container() -> None:
    with pytest.raises(ValueError, match="one container"):
        ContainerPool(Starts(), limit=0)
