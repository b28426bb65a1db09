"""A `MetricRecorder` that keeps what it is told, for unit tests to read back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core.observability.names import Metric
from core.ports import MetricRecorder


@dataclass
class RecordedMetrics:
    # (metric, reason) -> total; reason None: the count without one.
    counts: Counter[tuple[Metric, str | None]] = field(default_factory=Counter)
    durations: dict[Metric, list[float]] = field(default_factory=dict)

    def count(self, metric: Metric, value: int = 1, *, reason: str | None = None) -> None:
        # As CloudWatch sees EMF: a count by reason is also a count of the metric alone.
        self.counts[metric, None] += value
        if reason is not None:
            self.counts[metric, reason] += value

    def milliseconds(self, metric: Metric, value: float) -> None:
        self.durations.setdefault(metric, []).append(value)


_: MetricRecorder = RecordedMetrics()
