"""`in_parallel`: independent calls side by side, their results in order."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from functools import partial

import pytest

from core.concurrency import in_parallel

where: ContextVar[str] = ContextVar("where", default="nowhere")


def test_calls_run_side_by_side_and_answer_in_order() -> None:
    together = threading.Barrier(3, timeout=5)  # broken unless three run at once

    def call(n: int) -> int:
        together.wait()
        return n

    assert in_parallel([partial(call, n) for n in range(3)], at_once=3) == [0, 1, 2]


def test_each_call_sees_the_callers_context() -> None:
    where.set("request")

    assert in_parallel([where.get, where.get]) == ["request", "request"]


def test_at_most_so_many_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.01)
        with lock:
            running -= 1

    in_parallel([call] * 20, at_once=4)

    assert 1 < most <= 4


def test_what_a_call_raises_is_raised() -> None:
    def fails() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        in_parallel([lambda: 1, fails])
