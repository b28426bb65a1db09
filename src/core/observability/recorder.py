"""A `MetricRecorder` that records nothing: for the callers (and tests) that want none."""

from __future__ import annotations

from core.observability.names import Metric


class NoMetrics:
    def count(self, metric: Metric, value: int = 1, *, reason: str | None = None) -> None:
        pass

    def milliseconds(self, metric: Metric, value: float) -> None:
        pass
