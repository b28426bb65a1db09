"""The local stack's stand-in for EventBridge's Schedule event source: the template's scheduled
functions, their rates, and runs that keep to them until stopped."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local_stack.functions import LocalFunction, template_functions
from local_stack.scheduler import (
    Scheduler,
    ScheduleSource,
    rate_seconds,
    scheduled_event,
    template_schedules,
)
from tests.support.events import is_scheduled_event, load_event


def test_the_repair_function_runs_every_minute() -> None:
    assert template_schedules({}) == [ScheduleSource("RepairFunction", "EveryMinute", 60.0)]


def test_an_interval_for_every_schedule_can_be_set() -> None:
    (source,) = template_schedules({"LOCAL_SCHEDULE_SECONDS": "0.5"})
    assert source.every_seconds == 0.5


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86_400),
    ],
)
def test_rates(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "rate(0 minutes)", "rate(1 week)"])
def test_what_it_cannot_run_is_refused_by_name(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds(expression)


def test_its_event_has_the_shape_of_the_committed_one() -> None:
    """The same keys as events/repair-schedule.json, which the handler's tests replay."""
    from datetime import UTC, datetime

    event = scheduled_event(ScheduleSource("RepairFunction", "EveryMinute", 60), datetime.now(UTC))
    assert is_scheduled_event(event)
    assert event.keys() == load_event("repair-schedule.json").keys()


def test_runs_keep_coming_until_stopped() -> None:
    """Runs go through the invoker it is given (the gateway's containers in the stack), each
    with a scheduled event; one that fails does not end the schedule."""
    function = template_functions()["RepairFunction"]
    calls: list[tuple[LocalFunction, Any]] = []
    three = threading.Event()

    def invoke(called: LocalFunction, event: Any) -> tuple[Any, bool]:
        calls.append((called, event))
        if len(calls) >= 3:
            three.set()
        return {"errorMessage": "boom"}, len(calls) == 1

    scheduler = Scheduler(
        [ScheduleSource("RepairFunction", "EveryMinute", 0.01)],
        {"RepairFunction": function},
        invoke,
    )
    assert three.wait(10)
    scheduler.stop()

    assert all(called is function and is_scheduled_event(event) for called, event in calls)
