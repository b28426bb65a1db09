"""What every entry point wraps itself in (`@entry_point(...)`): the service's logger, its
keys cleared as each invocation starts and the Lambda context's added; the invocation
traced where tracing is on (`core.observability.tracing`); its metrics flushed as one EMF line
at the end. A process makes its logger here first, so every line is redacted
(`core.observability.logs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from core.observability.emf import powertools_metrics
from core.observability.logs import service_logger
from core.observability.tracing import traced_handler

logger = service_logger()
metrics = powertools_metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def entry_point(*, correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Log with the invocation's ids (`correlation_id_path`: where the event keeps its
    request id), trace it, and flush its metrics when it ends."""

    def wrap(handler: Handler) -> Handler:
        flushed = metrics.log_metrics(handler)
        logged = logger.inject_lambda_context(
            traced_handler(flushed), correlation_id_path=correlation_id_path, clear_state=True
        )
        return cast(Handler, logged)

    return wrap
