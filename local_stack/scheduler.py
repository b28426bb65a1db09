"""EventBridge's Schedule event source, played locally: each scheduled function of the
template runs at its rate, with the event EventBridge would send.

As `local_stack.worker_poller` reads the template's SQS event sources, this reads its
`Schedule` ones (`rate(...)` expressions; a `cron(...)` one is refused, naming it, rather than
run at a guessed time). The first run is one interval after start, as a new rule's is.
LOCAL_SCHEDULE_SECONDS runs every scheduled function that often instead (tests, soak runs).
Invocations go through the gateway's containers, as the pollers' do; one that raises is
reported and the schedule goes on, as EventBridge's does.
"""

from __future__ import annotations

import os
import re
import threading
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local_stack.apigateway import LOCAL_ACCOUNT
from local_stack.environment import REGION
from local_stack.functions import LocalFunction
from local_stack.template_tables import load_template

# (payload, whether the function raised): what the gateway's `run_invoke` answers.
Invoker = Callable[[LocalFunction, Any], tuple[Any, bool]]
INTERVAL_SETTING = "LOCAL_SCHEDULE_SECONDS"

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


@dataclass(frozen=True)
class ScheduleSource:
    """A Schedule event of the template: which function runs, how often, under which rule."""

    function: str  # logical id of the function
    event: str  # the event's name in the template (the rule's, in a deployment)
    every_seconds: float


def rate_seconds(expression: str) -> int:
    """Seconds between runs of an EventBridge `rate(...)` expression; `ValueError` otherwise."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise ValueError(
            f"The local stack runs only rate(...) schedules, not {expression!r}: change the"
            " template's Schedule, or run the function by hand (the Invoke port)."
        )
    count, unit = int(match.group(1)), match.group(2).removesuffix("s")
    if count < 1:
        raise ValueError(f"A schedule's rate must be at least 1: {expression!r}.")
    return count * _UNIT_SECONDS[unit]


def template_schedules(environ: Mapping[str, str] = os.environ) -> list[ScheduleSource]:
    """Every Schedule event source of the template's functions."""
    override = environ.get(INTERVAL_SETTING)
    sources = []
    for logical_id, resource in load_template()["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for name, event in (resource["Properties"].get("Events") or {}).items():
            if event.get("Type") != "Schedule":
                continue
            every = rate_seconds(str(event["Properties"]["Schedule"]))
            sources.append(ScheduleSource(logical_id, name, float(override or every)))
    return sources


def scheduled_event(source: ScheduleSource, at: datetime) -> dict[str, Any]:
    """The event EventBridge hands a function on its schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [
            f"arn:aws:events:{REGION}:{LOCAL_ACCOUNT}:rule/{source.function}{source.event}"
        ],
        "detail": {},
    }


class Scheduler:
    """Runs each source's function every `every_seconds`, on a thread of its own per source;
    a run that takes longer than the interval delays the next, never overlaps it."""

    def __init__(
        self,
        sources: Sequence[ScheduleSource],
        functions: Mapping[str, LocalFunction],
        invoke: Invoker,
    ) -> None:
        self.sources = list(sources)
        self._functions = functions
        self._invoke = invoke
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(source,), name="scheduler", daemon=True)
            for source in self.sources
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """No more runs; waits for one in progress (bounded by its function's timeout)."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()

    def _run(self, source: ScheduleSource) -> None:
        function = self._functions[source.function]
        while not self._stopping.wait(source.every_seconds):
            try:
                _payload, failed = self._invoke(
                    function, scheduled_event(source, datetime.now(UTC))
                )
            except Exception:
                failed = True
                traceback.print_exc()
            if failed and not self._stopping.is_set():
                print(f"scheduled run of {source.function} failed", flush=True)
