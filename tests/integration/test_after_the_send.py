"""After the send, the whole chain without the local stack: a send through the API (queued,
then the worker Lambda on moto's send queue) or at once through SES, its message events fanned
out onto moto's webhook queue, the webhook sender Lambda calling a real HTTP server on loopback;
SES's bounce through the events function. A duplicate SQS delivery of the send job, or a
duplicate SES event, calls nobody twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.api import call_api
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.ses_events import SES_SENDER, through_sns
from tests.support.smtp_servers import CaptureServer
from tests.support.web_servers import WebServer
from tests.support.webhook_endpoint import HOOK, received, subscribe
from tests.support.webhook_queue import WebhookCalls

GONE, KEPT = "gone@example.com", "kept@example.com"
SES_ID = "0100018c-after-000001-000000"


def test_a_queued_send_calls_the_endpoint_once_per_event_despite_a_duplicate_delivery(
    send_queue: SendQueue,
    server: CaptureServer,
    webhook_calls: WebhookCalls,
    webhook_endpoint: WebServer,
) -> None:
    secret = subscribe(webhook_endpoint.url(HOOK), ["*"])["secret"]
    queued = call_api(
        "POST",
        "/api/v2/email",
        {"to": KEPT, "subject": "Hi", "body_text": "Hi"},
        query="async=true",
    )
    assert queued.status == 202, queued.body
    batch = send_queue.receive()

    send_queue.run_worker(batch)
    webhook_calls.run_until_empty()
    send_queue.run_worker(batch)  # SQS handed the same job out again
    webhook_calls.run_until_empty()

    message = queued.body["id"]
    assert sorted(received(webhook_endpoint, secret)) == [
        ("accepted", message, None),
        ("queued", message, None),
        ("sent", message, None),
    ]
    assert len(server.messages) == 1
    assert webhook_calls.waiting() == 0


def bounce(recipient: str, *, later: timedelta = timedelta(0)) -> dict[str, Any]:
    at = datetime.now(UTC) + later
    now = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "eventType": "Bounce",
        "mail": {
            "timestamp": now,
            "source": SES_SENDER,
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


def test_an_ses_bounce_calls_the_endpoint_once_and_the_next_send_reports_the_suppression(
    ses: SesEndpoint, webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    secret = subscribe(webhook_endpoint.url(HOOK), ["*"])["secret"]
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
    webhook_calls.run_until_empty()

    assert (refused.status, refused.reason) == (422, "all_recipients_suppressed")
    assert (mixed.status, mixed.body["suppressed"]) == (200, [GONE]), mixed.body
    first, second = sent.body["id"], mixed.body["id"]
    # The refused send was never accepted: no record, so no event and no call for it.
    assert sorted(received(webhook_endpoint, secret)) == sorted(
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
