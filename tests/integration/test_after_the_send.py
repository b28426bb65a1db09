"""After the send, the whole chain without the local stack: a send through the API (queued,
then the worker Lambda on moto's send queue) or at once through SES, its message events fanned
out onto moto's webhook queue, the webhook sender Lambda calling a real HTTP server on loopback;
SES's bounce through the events function. A duplicate SQS delivery of the send job, or a
duplicate SES event, calls nobody twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core import runtime
from local_stack.apigateway import LocalLambdaContext
from tests.support.api import call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.smtp_servers import CaptureServer
from tests.support.web_servers import WebServer, answer
from tests.support.webhook_queue import WebhookCalls
from tests.support.webhook_signature import verify

GONE, KEPT = "gone@example.com", "kept@example.com"
SES_ID = "0100018c-after-000001-000000"


@pytest.fixture
def calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> WebhookCalls:
    """The webhook queue, and the operator's allowance for a test server on loopback."""
    queue = WebhookCalls.create()
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", queue.url)
    monkeypatch.setenv("OUTBOUND_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("OUTBOUND_ALLOW_HTTP", "true")
    runtime.reset()
    return queue


@pytest.fixture
def endpoint() -> Iterator[WebServer]:
    with WebServer() as server:
        server.routes["/hook"] = answer(200, b"thanks")
        yield server


def subscribe(endpoint: WebServer) -> str:
    """A webhook for every event; its secret."""
    created = call_api(
        "POST", "/api/v2/system/webhook", {"url": endpoint.url("/hook"), "events": ["*"]}
    )
    assert created.status == 201, created.body
    secret: str = created.body["secret"]
    return secret


def run_sender_until_empty(calls: WebhookCalls) -> None:
    for _ in range(10):
        if not calls.waiting():
            return
        calls.run_sender()
    raise AssertionError("the webhook queue still had calls after 10 sender runs")


def received(endpoint: WebServer, secret: str) -> list[tuple[str, str, str | None]]:
    """(type, message_id, recipient) of each call, in order; every one signed with `secret`."""
    for arrival in endpoint.arrivals:
        assert verify(secret, arrival.headers, arrival.body), arrival.headers
    payloads = [json.loads(arrival.body) for arrival in endpoint.arrivals]
    return [(p["type"], p["message_id"], p.get("recipient")) for p in payloads]


def test_a_queued_send_calls_the_endpoint_once_per_event_despite_a_duplicate_delivery(
    send_queue: SendQueue, server: CaptureServer, calls: WebhookCalls, endpoint: WebServer
) -> None:
    secret = subscribe(endpoint)
    queued = call_api(
        "POST",
        "/api/v2/email",
        {"to": KEPT, "subject": "Hi", "body_text": "Hi"},
        query="async=true",
    )
    assert queued.status == 202, queued.body
    batch = send_queue.receive()

    send_queue.run_worker(batch)
    run_sender_until_empty(calls)
    send_queue.run_worker(batch)  # SQS handed the same job out again
    run_sender_until_empty(calls)

    message = queued.body["id"]
    assert sorted(received(endpoint, secret)) == [
        ("accepted", message, None),
        ("queued", message, None),
        ("sent", message, None),
    ]
    assert len(server.messages) == 1
    assert calls.waiting() == 0


@pytest.fixture
def ses(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SesEndpoint]:
    with SesEndpoint() as ses_endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", ses_endpoint.url)
        create_service(
            {"region": "eu-west-1", "configuration_set": "events", "from_email": "a@example.com"},
            type="ses",
        )
        yield ses_endpoint


def bounce(recipient: str, *, later: timedelta = timedelta(0)) -> dict[str, Any]:
    at = datetime.now(UTC) + later
    now = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "eventType": "Bounce",
        "mail": {
            "timestamp": now,
            "source": "a@example.com",
            "messageId": SES_ID,
            "destination": [recipient],
        },
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": recipient, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
            "timestamp": now,
        },
    }


def through_sns(event: dict[str, Any]) -> list[str]:
    """The event as SNS invokes the events function with it; its outcomes."""
    from handlers import ses_events

    sns = {"Type": "Notification", "MessageId": "95df01b4", "Message": json.dumps(event)}
    invocation = {"Records": [{"EventSource": "aws:sns", "Sns": sns}]}
    outcomes: list[str] = ses_events.lambda_handler(invocation, LocalLambdaContext().typed())[
        "outcomes"
    ]
    return outcomes


def test_an_ses_bounce_calls_the_endpoint_once_and_the_next_send_reports_the_suppression(
    ses: SesEndpoint, calls: WebhookCalls, endpoint: WebServer
) -> None:
    secret = subscribe(endpoint)
    ses.answer(Accept(message_id=SES_ID))
    sent = call_api("POST", "/api/v2/email", {"to": [GONE], "subject": "Hi", "body_text": "Hi"})
    assert sent.status == 200, sent.body

    bounced = bounce(GONE)
    assert through_sns(bounced) == ["applied"]
    assert through_sns(bounced) == ["duplicate"]  # SNS delivered it twice
    # SES's word again, later: it joins the history but moves nobody, so it calls nobody.
    assert through_sns(bounce(GONE, later=timedelta(seconds=5))) == ["applied"]
    refused = call_api("POST", "/api/v2/email", {"to": [GONE], "subject": "Hi", "body_text": "Hi"})
    mixed = call_api(
        "POST", "/api/v2/email", {"to": [GONE, KEPT], "subject": "Hi", "body_text": "Hi"}
    )
    run_sender_until_empty(calls)

    assert (refused.status, refused.reason) == (422, "all_recipients_suppressed")
    assert (mixed.status, mixed.body["suppressed"]) == (200, [GONE]), mixed.body
    first, second = sent.body["id"], mixed.body["id"]
    # The refused send was never accepted: no record, so no event and no call for it.
    assert sorted(received(endpoint, secret)) == sorted(
        [
            ("accepted", first, None),
            ("sent", first, None),
            ("bounced", first, GONE),
            ("accepted", second, None),
            ("suppressed", second, GONE),
            ("sent", second, None),
        ]
    )
    totals = call_api("GET", "/api/v2/system/stats").body["meta"]["totals"]
    counted = {name: totals[name] for name in ("accepted", "sent", "bounced", "suppressed")}
    assert counted == {"accepted": 2, "sent": 2, "bounced": 1, "suppressed": 1}
