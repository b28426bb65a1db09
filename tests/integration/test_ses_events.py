"""SES's events (event publishing's documented shapes, bare and wrapped in SNS) through the
events function into moto: each recipient of the message moves on, permanent bounces and
complaints join the suppression list and the next send skips them, and duplicated or
reordered events end in the same state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.apigateway import LocalLambdaContext
from tests.support.api import call_api, create_service
from tests.support.ses_endpoint import Accept, SesEndpoint

SENDER = "noreply@example.com"
JOHN, AUDIT = "john@example.com", "audit@example.org"
MESSAGE = {"to": [JOHN], "bcc": AUDIT, "subject": "Hi", "body_text": "Hi"}
SES_ID = "0100018c-events-000001-000000"


@pytest.fixture
def ses(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SesEndpoint]:
    with SesEndpoint() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", endpoint.url)
        create_service(
            {"region": "eu-west-1", "configuration_set": "events", "from_email": SENDER},
            type="ses",
        )
        yield endpoint


@pytest.fixture
def sent(ses: SesEndpoint) -> str:
    """A message SES took as SES_ID: its record's id."""
    ses.answer(Accept(message_id=SES_ID))
    answer = call_api("POST", "/api/v2/email", MESSAGE)
    assert answer.status == 200, answer.body
    record_id: str = answer.body["id"]
    return record_id


def _mail(message_id: str = SES_ID) -> dict[str, Any]:
    return {
        "timestamp": "2026-12-04T10:00:00.000Z",
        "source": SENDER,
        "sendingAccountId": "123456789012",
        "messageId": message_id,
        "destination": [JOHN, AUDIT],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["events"]},
    }


def delivery(at: str, *recipients: str) -> dict[str, Any]:
    return {
        "eventType": "Delivery",
        "mail": _mail(),
        "delivery": {
            "timestamp": at,
            "processingTimeMillis": 546,
            "recipients": list(recipients),
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }


def bounce(at: str, kind: str, recipient: str, message_id: str = SES_ID) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "mail": _mail(message_id),
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": at,
            "feedbackId": "0100018c-feedback",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
    }


def complaint(at: str, recipient: str) -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "mail": _mail(),
        "complaint": {
            "complainedRecipients": [{"emailAddress": recipient}],
            "timestamp": at,
            "feedbackId": "0100018c-complaint",
            "complaintFeedbackType": "abuse",
        },
    }


def delay(at: str, recipient: str) -> dict[str, Any]:
    return {
        "eventType": "DeliveryDelay",
        "mail": _mail(),
        "deliveryDelay": {
            "timestamp": at,
            "delayType": "TransientCommunicationFailure",
            "expirationTime": "2026-12-05T10:00:00.000Z",
            "delayedRecipients": [
                {
                    "emailAddress": recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.0 Unable to connect",
                }
            ],
        },
    }


def through_sns(*events: dict[str, Any]) -> list[str]:
    """Each event as SNS invokes the function with it: one record, the event as a string."""
    from handlers import ses_events

    outcomes: list[str] = []
    for event in events:
        invocation = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:ses-events",
                        "Message": json.dumps(event),
                        "Timestamp": "2026-12-04T10:00:01.000Z",
                    },
                }
            ]
        }
        answer = ses_events.lambda_handler(invocation, LocalLambdaContext().typed())
        outcomes.extend(answer["outcomes"])
    return outcomes


def _record(record_id: str) -> dict[str, Any]:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body
    return record


def _states(record_id: str) -> dict[str, str]:
    return {a: s["state"] for a, s in _record(record_id)["recipients_status"].items()}


def _suppressed() -> dict[str, Any]:
    answer = call_api("GET", "/api/v2/system/suppression")
    assert answer.status == 200, answer.body
    return {entry["email"]: entry for entry in answer.body["resource"]}


def test_each_recipient_moves_on_by_its_own_events(sent: str) -> None:
    outcomes = through_sns(
        delivery("2026-12-04T10:00:05.000Z", JOHN),
        delay("2026-12-04T10:00:06.000Z", AUDIT),
    )

    assert outcomes == ["applied", "applied"]
    record = _record(sent)
    assert _states(sent) == {JOHN: "delivered", AUDIT: "delayed"}
    assert record["recipients_status"][AUDIT]["diagnostic"] == "smtp; 421 4.4.0 Unable to connect"
    assert [event["type"] for event in record["events"]] == ["Delivery", "DeliveryDelay"]
    assert "events_version" not in record


def test_a_permanent_bounce_suppresses_and_the_next_send_skips_it(
    sent: str, ses: SesEndpoint
) -> None:
    through_sns(bounce("2026-12-04T10:00:05.000Z", "Permanent", JOHN))

    status = _record(sent)["recipients_status"][JOHN]
    assert (status["state"], status["bounce_type"], status["bounce_subtype"]) == (
        "bounced",
        "Permanent",
        "General",
    )
    assert status["diagnostic"] == "smtp; 550 5.1.1 user unknown"
    entry = _suppressed()[JOHN]
    assert (entry["scope"], entry["reason"]) == ("*", "bounce")
    assert entry["source"] == {"message_id": sent, "event": "Bounce", "key_id": None}

    ses.answer(Accept(message_id="0100018c-events-000002-000000"))
    again = call_api("POST", "/api/v2/email", MESSAGE)

    assert again.status == 200, again.body
    assert again.body["suppressed"] == [JOHN]
    assert again.body["count"] == 1
    assert _states(again.body["id"])[JOHN] == "suppressed"


def test_a_complaint_suppresses_and_a_transient_bounce_does_not(sent: str) -> None:
    through_sns(
        bounce("2026-12-04T10:00:05.000Z", "Transient", AUDIT),
        complaint("2026-12-04T10:05:00.000Z", JOHN),
    )

    assert _states(sent) == {JOHN: "complained", AUDIT: "bounced"}
    suppressed = _suppressed()
    assert suppressed[JOHN]["reason"] == "complaint"
    assert AUDIT not in suppressed


def test_a_delivery_after_a_bounce_leaves_it_bounced(sent: str) -> None:
    through_sns(
        bounce("2026-12-04T10:00:09.000Z", "Permanent", JOHN),
        delivery("2026-12-04T10:00:05.000Z", JOHN),
        delay("2026-12-04T10:00:04.000Z", JOHN),
    )

    assert _states(sent) == {JOHN: "bounced"}


def test_duplicated_events_are_applied_once(sent: str) -> None:
    event = delivery("2026-12-04T10:00:05.000Z", JOHN, AUDIT)

    outcomes = through_sns(event, event)

    assert outcomes == ["applied", "duplicate"]
    assert len(_record(sent)["events"]) == 2  # one a recipient


def test_a_bare_event_and_eventbridges_form_apply_too(sent: str) -> None:
    from handlers import ses_events

    context = LocalLambdaContext().typed()
    bare = ses_events.lambda_handler(delivery("2026-12-04T10:00:05.000Z", JOHN), context)
    bridged = ses_events.lambda_handler(
        {
            "detail-type": "Email Delivered",
            "source": "aws.ses",
            "detail": delivery("2026-12-04T10:00:06.000Z", AUDIT),
        },
        context,
    )

    assert (bare["outcomes"], bridged["outcomes"]) == (["applied"], ["applied"])
    assert _states(sent) == {JOHN: "delivered", AUDIT: "delivered"}


def test_an_event_about_an_unknown_message_or_no_event_is_dropped(sent: str) -> None:
    outcomes = through_sns(
        bounce("2026-12-04T10:00:05.000Z", "Permanent", JOHN, message_id="not-ours"),
        {"eventType": "Open", "mail": _mail()},
    )

    assert outcomes == ["unknown_message", "dropped"]
    assert _record(sent)["recipients_status"] == {}
    assert JOHN not in _suppressed()
