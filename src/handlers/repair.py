"""Scheduled function: queues again the jobs of records left holding them (see
`core.delivery.repair`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from core import runtime
from core.settings import check_settings
from handlers.observed import entry_point

check_settings()


@entry_point()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    repaired = runtime.outbox_repair().run()
    if repaired.failed:
        # A failed invocation, for the function's error metric and alarms; the rest was done.
        raise RuntimeError(f"{len(repaired.failed)} lost job(s) could not be queued again")
    return {"requeued": len(repaired.requeued)}
