"""Independent calls to AWS made side by side: a request with hundreds of them (a queued batch)
waits through about one round trip for each `AWS_CALLS_AT_ONCE`, not one for each call.
boto3's clients are safe to share between threads; each call runs in a copy of the caller's
context (its log correlation)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

# botocore keeps 10 connections a client (`max_pool_connections`): more calls at once than
# that would wait for one, or open and drop extra connections.
AWS_CALLS_AT_ONCE = 10

T = TypeVar("T")


def in_parallel(calls: Sequence[Callable[[], T]], *, at_once: int = AWS_CALLS_AT_ONCE) -> list[T]:
    """Each call's result, in order; up to `at_once` running at a time. What a call raises
    is raised here (after every call has finished): callers that want each call's error as
    its answer catch it inside the call."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(min(at_once, len(calls)), thread_name_prefix="aws") as pool:
        runs = [pool.submit(copy_context().run, call) for call in calls]
        return [run.result() for run in runs]
