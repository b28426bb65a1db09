"""One function's containers as processes: module state of their own, a handler's error kept
apart from a crash or a timeout (the container is replaced), and a prompt stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local_stack.container_process import FunctionError
from local_stack.containers import FunctionContainers
from local_stack.functions import LocalFunction

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS = "tests.unit.container_handlers"


def containers_of(
    handler: str, *, timeout: float = 10.0, concurrency: int = 2
) -> FunctionContainers:
    function = LocalFunction(
        name="TestFunction",
        handler=f"{HANDLERS}.{handler}",
        timeout_seconds=timeout,
        memory_mb=128,
        concurrency=concurrency,
        code_dir=REPO_ROOT,
    )
    return FunctionContainers(function)


@pytest.fixture
def echo() -> Iterator[FunctionContainers]:
    containers = containers_of("echo")
    yield containers
    containers.stop()
    containers.join()


def test_invocations_side_by_side_run_in_containers_of_their_own(echo: FunctionContainers) -> None:
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(echo.invoke, [{"seconds": 0.5, "n": 1}, {"seconds": 0.5, "n": 2}]))
    after = echo.invoke({})

    assert [answer["event"]["n"] for answer in both] == [1, 2]
    assert len({answer["pid"] for answer in both}) == 2
    assert [answer["invocations"] for answer in both] == [1, 1]
    # Warm again: one of the two, its module state kept.
    assert after["pid"] in {answer["pid"] for answer in both}
    assert after["invocations"] == 2
    assert echo.size == 2


def test_the_context_is_rebuilt_in_the_container(echo: FunctionContainers) -> None:
    answer = echo.invoke({})

    assert answer["function_name"] == "TestFunction"
    assert 0 < answer["remaining_ms"] <= 10_000


def test_a_handler_error_is_lambdas_error_payload_and_the_container_stays() -> None:
    containers = containers_of("fail", concurrency=1)
    try:
        with pytest.raises(FunctionError) as first:
            containers.invoke({"n": 1})
        with pytest.raises(FunctionError):
            containers.invoke({"n": 2})
        size = containers.size
    finally:
        containers.stop()
        containers.join()

    assert first.value.payload["errorType"] == "ValueError"
    assert first.value.payload["errorMessage"] == "bad event {'n': 1}"
    assert first.value.payload["stackTrace"]
    assert "Traceback" in first.value.log
    assert size == 1


def test_a_crashed_container_is_replaced(echo: FunctionContainers) -> None:
    crashing = containers_of("crash", concurrency=1)
    try:
        with pytest.raises(FunctionError) as crashed:
            crashing.invoke({})
        size_after = crashing.size
        with pytest.raises(FunctionError) as again:
            crashing.invoke({})
    finally:
        crashing.stop()
        crashing.join()

    assert crashed.value.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in crashed.value.payload["errorMessage"]
    assert size_after == 0
    assert again.value.payload["errorType"] == "Runtime.ExitError"  # a new container, crashed too


def test_a_container_past_its_timeout_is_killed_and_replaced() -> None:
    containers = containers_of("echo", timeout=1.0, concurrency=1)
    try:
        first = containers.invoke({})
        with pytest.raises(FunctionError) as timed_out:
            containers.invoke({"seconds": 30})
        after = containers.invoke({})
    finally:
        containers.stop()
        containers.join()

    assert timed_out.value.payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in timed_out.value.payload["errorMessage"]
    assert after["pid"] != first["pid"]
    assert after["invocations"] == 1


def test_an_answer_that_is_not_json_is_a_marshal_error() -> None:
    containers = containers_of("unanswerable", concurrency=1)
    try:
        with pytest.raises(FunctionError) as failed:
            containers.invoke({})
    finally:
        containers.stop()
        containers.join()

    assert failed.value.payload["errorType"] == "Runtime.MarshalError"


def test_a_handler_that_cannot_be_imported_fails_its_init() -> None:
    containers = containers_of("missing", concurrency=1)
    try:
        with pytest.raises(FunctionError) as failed:
            containers.invoke({})
    finally:
        containers.stop()
        containers.join()

    assert failed.value.payload["errorType"] == "Runtime.Unknown"
    assert "Unable to import module" in failed.value.payload["errorMessage"]
    assert containers.size == 0


def test_stop_ends_a_busy_container_at_once() -> None:
    containers = containers_of("echo", concurrency=1)
    containers.invoke({})  # warm: the next invocation is busy at once
    outcome: list[Any] = []

    def invoke() -> None:
        try:
            outcome.append(containers.invoke({"seconds": 60}))
        except FunctionError as error:
            outcome.append(error.payload["errorType"])

    busy = threading.Thread(target=invoke)
    busy.start()
    time.sleep(0.3)
    containers.stop()
    containers.join()
    busy.join(10)

    assert not busy.is_alive()
    assert outcome == ["Runtime.ExitError"]
    assert containers.size == 0
