"""What `POST /{service}/batch` with 500 items, queued, costs in AWS calls and in time.

The batch goes through `core.runtime.batch_sender()` (the route's own way) in moto
(`mock_aws`, the template's tables, the send queue and the staging bucket), as an API key
whose role has a per-minute and a per-day limit (each item is charged to both, as a single
send is). Every AWS call is counted by operation, and made to take `d` more (a sleep before
it, as a round trip to AWS would: calls in flight at once overlap, as they would in AWS). moto
itself answers one call at a time (it is not thread-safe), and its CPU dwarfs a real table's,
so the wall time here (at d = 10 and 50 ms) says little. What is measured is the request's
critical path in AWS calls: those its own thread makes, plus, for each pool of threads that
ran side by side while it waited, the most calls any one of them made. AWS's latency d
multiplies that (the modelled time, `in_turn x d`); every call in turn would be `calls x d`.
The figure is their ratio: 1.0 is fully sequential.

Run alone: `python -m bench.batch_queue` (prints the counts and times as JSON).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

ITEMS = 500
DELAYS_MS = (10, 50)
WARM_UP_ITEMS = 20
SERVICE = "bench-batch"
RESULT_MARKER = "BATCH-QUEUE-RESULT "
# API Gateway's most for a REST API's integration.
API_GATEWAY_SECONDS = 29.0


@dataclass(frozen=True)
class Measured:
    items: int
    calls: dict[str, int]  # by service:operation, for one batch
    wall_seconds: dict[int, float]  # by the added ms a call
    in_turn: int  # calls on the critical path (`_Calls.in_turn`)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def modelled_seconds(self, delay_ms: int) -> float:
        """The AWS latency the request waits through: its critical path's calls x d."""
        return self.in_turn * delay_ms / 1000

    def sequential_seconds(self, delay_ms: int) -> float:
        """The same were every call made in turn."""
        return self.total_calls * delay_ms / 1000

    @property
    def ratio(self) -> float:
        """Critical-path calls over all calls (1.0: every call in turn)."""
        return self.in_turn / self.total_calls


class _Calls:
    """Counts every botocore call, makes it take `delay` more, and lets moto answer one at a
    time."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.counted: Counter[str] = Counter()
        # Each thread's calls: (first call, last call, how many), the request's own included.
        self.threads: dict[threading.Thread, tuple[float, float, int]] = {}
        self._lock = threading.Lock()
        self._moto = threading.Lock()

    def install(self) -> None:
        from botocore.client import BaseClient

        # botocore's one way out for every call (private, and untyped in its stubs).
        original = getattr(BaseClient, "_make_api_call")  # noqa: B009
        calls = self

        def _make_api_call(client: Any, operation: str, params: Any) -> Any:
            now = time.perf_counter()
            with calls._lock:
                calls.counted[f"{client.meta.service_model.service_name}:{operation}"] += 1
                thread = threading.current_thread()
                first, _last, count = calls.threads.get(thread, (now, now, 0))
                calls.threads[thread] = (first, now, count + 1)
            if calls.delay:
                time.sleep(calls.delay)
            with calls._moto:
                return original(client, operation, params)

        setattr(BaseClient, "_make_api_call", _make_api_call)  # noqa: B010

    def in_turn(self) -> int:
        """The calls on the request's critical path: its own thread's, and for each group of
        threads that ran side by side (a pool: their spans overlap; the request waits for it)
        the most any one of them made. What AWS's latency multiplies."""
        main = threading.main_thread()
        depth = self.threads.get(main, (0.0, 0.0, 0))[2]
        spans = sorted(span for thread, span in self.threads.items() if thread is not main)
        reach, deepest = float("-inf"), 0
        for first, last, count in spans:
            if first > reach:  # a new group: the last one is over
                depth += deepest
                deepest = 0
            deepest = max(deepest, count)
            reach = max(reach, last)
        return depth + deepest


def _set_up() -> None:
    import boto3

    from local_stack.environment import table_setting
    from local_stack.template_tables import create_tables, table_schemas

    # Every table of the template, under the name the bench's settings give it.
    names = {
        logical_id: os.environ.setdefault(table_setting(logical_id), f"bench-{logical_id.lower()}")
        for logical_id in table_schemas()
    }
    create_tables(boto3.client("dynamodb"), names)
    sqs = boto3.client("sqs")
    os.environ["SEND_QUEUE_URL"] = sqs.create_queue(QueueName="bench-batch-send")["QueueUrl"]
    boto3.client("s3").create_bucket(Bucket=os.environ["STAGING_BUCKET"])

    from core import runtime
    from core.services.model import ServiceInput

    runtime.reset()
    runtime.service_repository().create(
        ServiceInput.model_validate(
            {
                "name": SERVICE,
                "config": {
                    "host": "127.0.0.1",
                    "port": 2525,
                    "encryption": "none",
                    "from_email": "bench@example.com",
                },
            }
        )
    )


def _one_batch(items: int = ITEMS) -> float:
    """One queued batch of `items` through the route's sender; its wall time."""
    from core import runtime
    from core.access.authentication import Principal
    from core.access.model import Role
    from core.batch.envelope import parse_batch

    role = Role(
        name="bench",
        services=["*"],
        senders=["*@example.com"],
        rate_limits={"per_minute": 100_000, "per_day": 1_000_000},
    )
    body = {
        "message": {"subject": "Hi {name}", "body_text": "Hello {name}"},
        "recipients": [
            {"email": f"r{index}@example.com", "name": f"R{index}"} for index in range(items)
        ],
    }
    started = time.perf_counter()
    outcome = runtime.batch_sender().send(
        Principal("bench-key", role),
        SERVICE,
        parse_batch(body),
        body,
        asynchronous=True,
        idempotency_key=None,
        lambda_context=None,
    )
    wall = time.perf_counter() - started
    statuses = Counter(result.status for result in outcome.results)
    if statuses != {"queued": items}:
        raise RuntimeError(f"not every item was queued: {dict(statuses)}")
    return wall


def measure() -> Measured:
    from bench import environment

    environment.configure()
    environment.use_moto_credentials()
    from moto import mock_aws

    calls = _Calls()
    calls.install()
    with mock_aws():
        _set_up()
        _one_batch(WARM_UP_ITEMS)  # imports and botocore's models, outside the timed runs
        walls: dict[int, float] = {}
        counted: dict[str, int] = {}
        in_turn = 0
        for delay_ms in DELAYS_MS:
            calls.delay = delay_ms / 1000
            calls.counted.clear()
            calls.threads.clear()
            walls[delay_ms] = _one_batch()
            counted, in_turn = dict(calls.counted), calls.in_turn()
    return Measured(ITEMS, counted, walls, in_turn)


def main() -> None:
    found = measure()
    summary = {
        **asdict(found),
        "total_calls": found.total_calls,
        "calls_in_turn": found.in_turn,
        "ratio": round(found.ratio, 3),
        "modelled_s": {d: round(found.modelled_seconds(d), 2) for d in DELAYS_MS},
        "sequential_s": {d: round(found.sequential_seconds(d), 2) for d in DELAYS_MS},
        "api_gateway_s": API_GATEWAY_SECONDS,
    }
    sys.stdout.write(RESULT_MARKER + json.dumps(summary) + "\n")


if __name__ == "__main__":
    main()
