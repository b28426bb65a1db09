"""SES's events (event publishing's documented shapes, bare and wrapped in SNS) through the
events function into moto: each recipient of the message moves on, permanent bounces and
complaints join the suppression list and the next send skips them, and duplicated or
reordered events end in the same state."""

from __future__ import annotations

import io
import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from core.events.not_yet_known import MAX_RECEIVES
from local_stack.apigateway import LocalLambdaContext
from local_stack.worker_poller import sqs_event, to_delete
from mailer_cli.main import main
from tests.support.api import call_api, create_service
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.ses_events import SES_SENDER, SES_SERVICE, directly, sns_envelope, through_sns

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

JOHN, AUDIT = "john@example.com", "audit@example.org"
MESSAGE = {"to": [JOHN], "bcc": AUDIT, "subject": "Hi", "body_text": "Hi"}
SES_ID = "0100018c-events-000001-000000"


@pytest.fixture
def sent(ses: SesEndpoint) -> str:
    """A message SES took as SES_ID: its record's id."""
    ses.answer(Accept(message_id=SES_ID))
    answer = call_api("POST", "/api/v2/email", MESSAGE)
    assert answer.status == 200, answer.body
    record_id: str = answer.body["id"]
    return record_id


def _mail(message_id: str = SES_ID, sent_at: str = "2026-12-04T10:00:00.000Z") -> dict[str, Any]:
    return {
        "timestamp": sent_at,
        "source": SES_SENDER,
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
    bare = directly(delivery("2026-12-04T10:00:05.000Z", JOHN))
    bridged = directly(
        {
            "detail-type": "Email Delivered",
            "source": "aws.ses",
            "detail": delivery("2026-12-04T10:00:06.000Z", AUDIT),
        }
    )

    assert (bare, bridged) == (["applied"], ["applied"])
    assert _states(sent) == {JOHN: "delivered", AUDIT: "delivered"}


def test_an_event_about_an_unknown_message_or_no_event_is_dropped(sent: str) -> None:
    outcomes = through_sns(
        bounce("2026-12-04T10:00:05.000Z", "Permanent", JOHN, message_id="not-ours"),
        {"eventType": "Open", "mail": _mail()},
    )

    assert outcomes == ["unknown_message", "dropped"]
    assert _record(sent)["recipients_status"] == {}
    assert JOHN not in _suppressed()


# Through the events queue, as deployed: SNS delivers each event to SQS (its envelope as the
# body), and SQS hands the function batches.


@dataclass
class EventsQueue:
    """The events queue in moto, and the function run on it as the SQS event source does."""

    url: str
    arn: str
    sqs: SQSClient

    @classmethod
    def create(cls) -> EventsQueue:
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="email-api-ses-events-queue")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return cls(url, attributes["Attributes"]["QueueArn"], sqs)

    def publish(self, *events: dict[str, Any]) -> None:
        for event in events:
            self.sqs.send_message(QueueUrl=self.url, MessageBody=sns_envelope(event))

    def run_function(self) -> tuple[int, int]:
        """One batch through the function: how many it was done with, how many it reported
        failed (those are visible again at once, as if their visibility timeout had passed)."""
        from handlers import ses_events

        received = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        answer = ses_events.lambda_handler(
            sqs_event(received, self.arn), LocalLambdaContext().typed()
        )
        done = to_delete(received, answer, partial=True)
        for handle in done:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=handle)
        for message in received:
            if message["ReceiptHandle"] not in done:
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        return len(done), len(received) - len(done)


@pytest.fixture
def events_queue(aws: None) -> EventsQueue:
    return EventsQueue.create()


def _now(ago: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) - ago).isoformat(timespec="milliseconds")


def send_event(message_id: str, sent_at: str) -> dict[str, Any]:
    return {"eventType": "Send", "mail": _mail(message_id, sent_at), "send": {}}


def test_a_batch_applies_its_events_and_brings_back_only_the_one_not_known_yet(
    sent: str, events_queue: EventsQueue
) -> None:
    events_queue.publish(
        delivery("2026-12-04T10:00:05.000Z", JOHN),
        send_event("0100018c-not-settled-yet", _now()),
        complaint("2026-12-04T10:05:00.000Z", AUDIT),
    )

    assert events_queue.run_function() == (2, 1)
    assert _states(sent) == {JOHN: "delivered", AUDIT: "complained"}
    assert _suppressed()[AUDIT]["reason"] == "complaint"


def test_an_event_before_its_record_has_the_provider_id_applies_once_it_has(
    ses: SesEndpoint, events_queue: EventsQueue
) -> None:
    # SES published the delivery before the send that made it wrote SES's id to its record.
    early = delivery("2026-12-04T10:00:05.000Z", JOHN)
    early["mail"]["timestamp"] = _now()
    events_queue.publish(early)

    assert events_queue.run_function() == (0, 1)
    ses.answer(Accept(message_id=SES_ID))
    answer = call_api("POST", "/api/v2/email", MESSAGE)
    assert answer.status == 200, answer.body

    assert events_queue.run_function() == (1, 0)
    assert _states(answer.body["id"]) == {JOHN: "delivered"}


def test_an_unknown_event_is_dropped_when_old_or_after_the_queues_last_receive(
    sent: str, events_queue: EventsQueue
) -> None:
    young = bounce(_now(), "Permanent", JOHN, message_id="0100018c-not-ours")
    young["mail"]["timestamp"] = _now()
    events_queue.publish(young)
    events_queue.publish(send_event("0100018c-from-another-sender", _now(ago=timedelta(hours=1))))

    runs = [events_queue.run_function() for _ in range(MAX_RECEIVES)]

    # The old one goes at once; the young one comes back until the last receive drops it.
    assert runs == [(1, 1), *[(0, 1)] * (MAX_RECEIVES - 2), (1, 0)]
    assert JOHN not in _suppressed()
    assert _record(sent)["recipients_status"] == {}


def test_a_service_scoped_bounce_suppresses_for_that_service_only(ses: SesEndpoint) -> None:
    create_service({**SES_SERVICE, "suppression_scope": "service"}, name="tenant", type="ses")
    ses.answer(Accept(message_id=SES_ID))
    sent = call_api("POST", "/api/v2/tenant", MESSAGE)
    assert sent.status == 200, sent.body

    through_sns(bounce("2026-12-04T10:00:05.000Z", "Permanent", JOHN))

    entry = _suppressed()[JOHN]
    assert (entry["scope"], entry["source"]["message_id"]) == ("tenant", sent.body["id"])
    ses.answer(Accept(), Accept())
    again = call_api("POST", "/api/v2/tenant", MESSAGE)
    other = call_api("POST", "/api/v2/email", MESSAGE)
    assert (again.status, again.body["suppressed"], again.body["count"]) == (200, [JOHN], 1)
    assert (other.status, other.body.get("suppressed", []), other.body["count"]) == (200, [], 2)
    # The envelope SES was given (all of it as BccAddresses: the headers carry To and Cc).
    envelopes = [body["Destination"]["BccAddresses"] for body in ses.sent()[1:]]
    assert envelopes == [[AUDIT], [JOHN, AUDIT]]


# `mailer ses-events replay`, against the events function as the local stack's
# `POST /_local/ses-events` runs it.

LOCAL_STACK = "http://127.0.0.1:3000"


class ThroughTheEventsFunction:
    """An opener for the CLI: each request as the local stack's gateway handles it."""

    def __init__(self) -> None:
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, /, *, timeout: float) -> io.BytesIO:
        from handlers import ses_events

        self.requests.append(request)
        assert request.full_url == f"{LOCAL_STACK}/_local/ses-events"
        assert isinstance(request.data, bytes)
        answer = ses_events.lambda_handler(json.loads(request.data), LocalLambdaContext().typed())
        return io.BytesIO(json.dumps(answer).encode())


def mailer(*argv: str, opener: ThroughTheEventsFunction) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([*argv, "--url", LOCAL_STACK], stdout=out, stderr=err, opener=opener)
    return status, out.getvalue(), err.getvalue()


def test_the_cli_replays_each_event_of_each_file_and_prints_its_outcome(
    sent: str, tmp_path: Path
) -> None:
    listed, single = tmp_path / "events.json", tmp_path / "bounce.json"
    listed.write_text(
        json.dumps(
            [
                delivery("2026-12-04T10:00:05.000Z", AUDIT),
                json.loads(sns_envelope(delay("2026-12-04T10:00:06.000Z", JOHN))),
                {"eventType": "Open", "mail": _mail()},
            ]
        )
    )
    single.write_text(json.dumps(bounce("2026-12-04T10:00:09.000Z", "Permanent", JOHN)))
    opener = ThroughTheEventsFunction()

    status, out, err = mailer("ses-events", "replay", str(listed), str(single), opener=opener)

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"{listed}[0]: applied",
        f"{listed}[1]: applied",
        f"{listed}[2]: dropped",
        f"{single}: applied",
    ]
    assert _states(sent) == {JOHN: "bounced", AUDIT: "delivered"}
    # The local path takes no key, so none is sent along.
    assert all(request.get_header("X-dreamfactory-api-key") is None for request in opener.requests)


def test_the_cli_replays_nothing_when_a_file_is_not_json(sent: str, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(delivery("2026-12-04T10:00:05.000Z", JOHN)))
    bad.write_text("{not json")
    opener = ThroughTheEventsFunction()

    with pytest.raises(SystemExit) as exited:
        mailer("ses-events", "replay", str(good), str(bad), opener=opener)

    assert exited.value.code == 2
    assert opener.requests == []
    assert _states(sent) == {}
