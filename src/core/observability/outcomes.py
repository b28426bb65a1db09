"""The outcome metrics: a `MessageEventSink` that counts each message event as its metric.

Message events are produced once, by the record write that made each outcome true
(`core.message_events`), so counting them counts every outcome once, whichever path (the
API, a direct invocation, the worker, the outbox repair) got there.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.message_events.model import MessageEvent, MessageEventType
from core.observability.names import Metric
from core.ports import MetricRecorder

_METRIC_OF_EVENT = {
    MessageEventType.ACCEPTED: Metric.ACCEPTED,
    MessageEventType.SENT: Metric.SENT,
    MessageEventType.FAILED: Metric.FAILED,
    MessageEventType.DEFERRED: Metric.DEFERRED,
    MessageEventType.UNKNOWN: Metric.UNKNOWN,
    MessageEventType.SUPPRESSED: Metric.SUPPRESSED,
}

# An attempt's end: with `attempts` above one, it was a retry.
_ATTEMPT_ENDS = frozenset(
    {
        MessageEventType.SENT,
        MessageEventType.FAILED,
        MessageEventType.DEFERRED,
        MessageEventType.UNKNOWN,
    }
)


class OutcomeMetrics:
    def __init__(self, recorder: MetricRecorder) -> None:
        self._recorder = recorder

    def publish(self, events: Sequence[MessageEvent]) -> None:
        for event in events:
            metric = _METRIC_OF_EVENT.get(event.type)
            if metric is None:
                continue
            if metric is Metric.FAILED:
                self._recorder.count(metric, reason=str(event.data.get("reason") or "unknown"))
            else:
                self._recorder.count(metric)
            if event.type in _ATTEMPT_ENDS and int(event.data.get("attempts") or 0) > 1:
                self._recorder.count(Metric.RETRIED)
