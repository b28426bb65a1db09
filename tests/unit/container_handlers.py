"""Handlers for the container process tests: each shows one thing a Lambda container does."""

from __future__ import annotations

import os
import time
from typing import Any

# Module state, as Powertools' and core/runtime.py's: one count per container process.
_invocations = 0


def echo(event: Any, context: Any) -> dict[str, Any]:
    global _invocations
    _invocations += 1
    time.sleep(float(event.get("seconds", 0)))
    return {
        "event": event,
        "pid": os.getpid(),
        "invocations": _invocations,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"bad event {event!r}")


def crash(event: Any, context: Any) -> None:
    os._exit(3)


def unanswerable(event: Any, context: Any) -> object:
    return object()
