"""The daily numbers as a user reads them (`GET /api/v2/system/stats`) after real sends: now
and queued through the worker, deferred by a 4xx, failed by a 5xx, bounced by SES's event;
a duplicate SQS delivery or SES event counts nothing twice. And the route's refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.stats.model import COUNTERS
from tests.support.access import create_key, create_role
from tests.support.api import call_api, create_plain_service, create_service
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.ses_events import SES_SENDER, through_sns
from tests.support.smtp_servers import At, CaptureServer, Fault, FaultServer

JOHN, JANE = "john@example.com", "jane@example.com"
MESSAGE = {"to": [JOHN, JANE], "subject": "Hi", "body_text": "Hi"}
SES_ID = "0100018c-stats-000001-000000"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _stats(query: str = "") -> dict[str, Any]:
    answer = call_api("GET", "/api/v2/system/stats", query=query)
    assert answer.status == 200, answer.body
    stats: dict[str, Any] = answer.body
    return stats


def _today_counts(service: str = "email") -> dict[str, Any]:
    """Today's row of `service`, its counters that are not 0 (and its rates and flags)."""
    rows = [
        row
        for row in _stats(f"service={service}")["resource"]
        if (row["service"], row["date"]) == (service, _today())
    ]
    assert len(rows) == 1, rows
    (row,) = rows
    counted = {name: row[name] for name in COUNTERS if row[name]}
    return {**counted, "rates": (row["bounce_rate"], row["complaint_rate"]), "flags": row["flags"]}


def _send(query: str = "") -> dict[str, Any]:
    answer = call_api("POST", "/api/v2/email", MESSAGE, query=query)
    assert answer.status in (200, 202), answer.body
    body: dict[str, Any] = answer.body
    return body


def test_a_send_now_and_a_queued_one_are_counted_as_they_go(
    send_queue: SendQueue, server: CaptureServer
) -> None:

    _send()
    _send("async=true")
    assert _today_counts()["accepted"] == 2
    send_queue.drain()

    assert _today_counts() == {
        "accepted": 2,
        "sent": 2,
        "recipients": 4,
        "rates": (0.0, 0.0),
        "flags": [],
    }


def test_a_duplicate_sqs_delivery_counts_nothing_twice(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    _send("async=true")
    batch = send_queue.receive()

    send_queue.run_worker(batch)
    send_queue.run_worker(batch)  # SQS handed the same message out again

    assert _today_counts() == {
        "accepted": 1,
        "sent": 1,
        "recipients": 2,
        "rates": (0.0, 0.0),
        "flags": [],
    }
    assert len(server.messages) == 1


def test_a_4xx_defers_and_the_retry_sends(send_queue: SendQueue) -> None:
    with FaultServer(
        Fault.answer(At.END_OF_DATA, "451 4.3.0 Try again later"), faulty_sessions=1
    ) as server:
        create_plain_service(server.port)
        _send("async=true")
        send_queue.drain()

    counts = _today_counts()
    assert (counts["accepted"], counts["deferred"], counts["sent"]) == (1, 1, 1)


def test_a_5xx_fails_now_and_queued(send_queue: SendQueue) -> None:
    with FaultServer(Fault.answer(At.END_OF_DATA, "554 5.7.1 Message refused")) as server:
        create_plain_service(server.port)
        refused = call_api("POST", "/api/v2/email", MESSAGE)
        _send("async=true")
        send_queue.drain()

    assert refused.status == 502
    assert _today_counts() == {
        "accepted": 2,
        "failed": 2,
        "rates": (None, None),
        "flags": [],
    }


def _ses_event(kind: str, recipient: str, at: str) -> dict[str, Any]:
    mail = {
        "timestamp": at,
        "source": SES_SENDER,
        "messageId": SES_ID,
        "destination": [JOHN, JANE],
    }
    if kind == "Bounce":
        detail: dict[str, Any] = {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": recipient, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
            "timestamp": at,
        }
        return {"eventType": "Bounce", "mail": mail, "bounce": detail}
    detail = {"timestamp": at, "recipients": [recipient], "smtpResponse": "250 2.6.0 OK"}
    return {"eventType": "Delivery", "mail": mail, "delivery": detail}


def test_ses_events_count_each_recipient_once_and_rate_the_day(ses: SesEndpoint) -> None:
    ses.answer(Accept(message_id=SES_ID))
    _send()
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    bounced, delivered = _ses_event("Bounce", JOHN, now), _ses_event("Delivery", JANE, now)

    for event in (bounced, delivered, bounced, delivered):  # SNS delivered each twice
        through_sns(event)

    assert _today_counts() == {
        "accepted": 1,
        "sent": 1,
        "recipients": 2,
        "delivered": 1,
        "bounced": 1,
        "rates": (0.5, 0.0),
        "flags": ["bounce_review", "bounce_pause"],
    }


def test_every_service_without_a_filter_and_the_range_and_thresholds_in_meta(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    create_service(
        {
            "host": "127.0.0.1",
            "port": server.port,
            "encryption": "none",
            "from_email": "n@example.com",
        },
        name="news",
    )
    _send()
    assert call_api("POST", "/api/v2/news", MESSAGE).status == 200

    stats = _stats()

    assert [(row["service"], row["sent"]) for row in stats["resource"]] == [
        ("email", 1),
        ("news", 1),
    ]
    meta = stats["meta"]
    assert meta["until"] == _today()
    assert meta["since"] == (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    assert meta["thresholds"] == {
        "bounce_review": 0.05,
        "bounce_pause": 0.1,
        "complaint_review": 0.001,
        "complaint_pause": 0.005,
    }
    assert (meta["totals"]["sent"], meta["totals"]["recipients"]) == (2, 4)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    "query",
    [
        "since=0.5",
        "since=86400",
        "until=2026-02-30",
        "since=2026-03-02T00:00:00Z",
        "since=2026-03-02&until=2026-03-01",
        "since=2025-01-01&until=2026-03-01",
        "service=",
        "service=no%20such",
        "until=0001-01-01",
        "since=9999-12-31",
    ],
)
def test_bad_filters_are_a_400(query: str) -> None:
    answer = call_api("GET", "/api/v2/system/stats", query=query)

    assert answer.status == 400, answer.body


@pytest.mark.usefixtures("aws")
def test_only_admins_read_the_numbers() -> None:
    create_role("app", services=["email"], senders=["*@example.com"])
    key = create_key("app")

    answer = call_api("GET", "/api/v2/system/stats", api_key=key.token)

    assert answer.status == 403
