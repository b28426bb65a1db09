"""The outcome metrics, as CloudWatch would read them: the EMF lines the functions print,
parsed, for a message sent, one refused (failed, by its reason) and one deferred then sent,
against aiosmtpd on loopback."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from core.observability.emf import DEFAULT_NAMESPACE
from tests.support.api import call_api, create_plain_service
from tests.support.queue_worker import SendQueue
from tests.support.smtp_servers import CaptureServer, Replies

pytestmark = pytest.mark.usefixtures("aws")

MESSAGE = {"to": ["john@example.com"], "subject": "Hi", "body_text": "Hello John"}


@dataclass(frozen=True)
class Published:
    """One metric of one EMF line: what CloudWatch makes of it."""

    namespace: str
    name: str
    unit: str
    dimensions: dict[str, str]
    values: list[float]


def published(stdout: str) -> list[Published]:
    """Every metric in the EMF lines (`{"_aws": {"CloudWatchMetrics": [...]}, ...}`) of `stdout`."""
    found = []
    for line in stdout.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        blob: dict[str, Any] = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            names = {name for dimension_set in directive["Dimensions"] for name in dimension_set}
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                found.append(
                    Published(
                        directive["Namespace"],
                        metric["Name"],
                        metric["Unit"],
                        {name: blob[name] for name in names},
                        value if isinstance(value, list) else [value],
                    )
                )
    return found


def counts(metrics: list[Published]) -> Counter[tuple[str, str | None]]:
    """Each count metric's total, by its name and its `reason` (None: published without)."""
    totals: Counter[tuple[str, str | None]] = Counter()
    for metric in metrics:
        if metric.unit == "Count":
            totals[metric.name, metric.dimensions.get("reason")] += int(sum(metric.values))
    return totals


@pytest.fixture
def emf(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], list[Published]]]:
    """The metrics the functions published during the test (none left from an earlier one)."""
    from handlers import observed

    observed.metrics.clear_metrics()
    capsys.readouterr()
    seen: list[str] = []

    def read() -> list[Published]:
        seen.append(capsys.readouterr().out)
        return published("".join(seen))

    yield read
    observed.metrics.clear_metrics()


def test_a_sent_message_counts_accepted_and_sent_and_times_its_handover(
    server: CaptureServer, emf: Callable[[], list[Published]]
) -> None:
    assert call_api("POST", "/api/v2/email", MESSAGE).status == 200

    metrics = emf()
    totals = counts(metrics)
    assert totals[("accepted", None)] == 1
    assert totals[("sent", None)] == 1
    assert not {name for name, _ in totals} & {"failed", "deferred", "unknown", "retried"}
    (latency,) = [metric for metric in metrics if metric.name == "smtp_latency"]
    assert latency.unit == "Milliseconds"
    assert 0 < latency.values[0] < 5000
    # A fresh connection: the greeting, EHLO, the envelope, the message; a few more without
    # PIPELINING, never dozens.
    assert 3 <= totals[("round_trips", None)] <= 8
    assert {metric.namespace for metric in metrics} == {DEFAULT_NAMESPACE}
    assert all(metric.dimensions["service"] == "email-api" for metric in metrics)


def test_a_refused_message_counts_failed_once_in_all_and_once_by_its_reason(
    smtp_server: Callable[..., CaptureServer], emf: Callable[[], list[Published]]
) -> None:
    server = smtp_server(replies=Replies(data="554 5.7.1 Message refused as spam"))
    create_plain_service(server.port)

    answer = call_api("POST", "/api/v2/email", MESSAGE)

    assert answer.status == 502, answer.body
    assert answer.reason
    totals = counts(emf())
    assert totals[("accepted", None)] == 1
    assert totals[("failed", None)] == 1
    assert totals[("failed", answer.reason)] == 1
    assert totals[("sent", None)] == 0
    by_reason = [m for m in emf() if m.name == "failed" and "reason" in m.dimensions]
    assert {tuple(sorted(m.dimensions)) for m in by_reason} == {("reason", "service")}


def test_a_deferred_message_counts_deferred_then_a_retried_send(
    send_queue: SendQueue,
    smtp_server: Callable[..., CaptureServer],
    emf: Callable[[], list[Published]],
) -> None:
    server = smtp_server(script=[Replies(mail_from="451 4.3.0 Try again later")])
    create_plain_service(server.port)

    accepted = call_api("POST", "/api/v2/email", MESSAGE, query="async=true")
    assert accepted.status == 202, accepted.body
    send_queue.drain()

    assert len(server.messages) == 1
    totals = counts(emf())
    assert totals[("accepted", None)] == 1
    assert totals[("deferred", None)] == 1
    assert totals[("sent", None)] == 1
    assert totals[("retried", None)] == 1  # the second attempt, which sent it
    assert totals[("failed", None)] == 0
