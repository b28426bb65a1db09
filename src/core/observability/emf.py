"""The `MetricRecorder` of a deployed function: Powertools Metrics, written as CloudWatch's
embedded metric format (EMF) on stdout, which CloudWatch Logs turns into metrics.

Metrics gather in memory and go out in one log line when the handler's `log_metrics`
decorator flushes them, at the end of every invocation (after 100, at once). A `failed`
with its `reason` is a line of its own (`single_metric`): EMF gives every metric of a line
the same dimensions. The namespace is POWERTOOLS_METRICS_NAMESPACE's (template.yaml's
Globals), `EmailApi` without it; the `service` dimension is POWERTOOLS_SERVICE_NAME's.
"""

from __future__ import annotations

import os
import warnings

from aws_lambda_powertools import Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from core.observability.names import Metric

DEFAULT_NAMESPACE = "EmailApi"

# An invocation that recorded nothing (a GET) is no news: Powertools warns at every one.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class EmfMetrics:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def count(self, metric: Metric, value: int = 1, *, reason: str | None = None) -> None:
        self._metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)
        if reason is None:
            return
        dimensions = {"reason": reason}
        if self._metrics.service:
            dimensions["service"] = str(self._metrics.service)
        with single_metric(
            name=metric.value,
            unit=MetricUnit.Count,
            value=value,
            namespace=self._metrics.namespace,
            default_dimensions=dimensions,
        ):
            pass  # written when the block ends

    def milliseconds(self, metric: Metric, value: float) -> None:
        self._metrics.add_metric(name=metric.value, unit=MetricUnit.Milliseconds, value=value)


def powertools_metrics() -> Metrics:
    """The process's metrics: every `Metrics` instance shares one set, so the handlers'
    `log_metrics` flushes what the recorder added."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    return Metrics(namespace=namespace)
