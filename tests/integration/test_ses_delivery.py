"""A `type: ses` service through the product: created and read back by the admin API, sent
through synchronously and through the queue and the worker (moto's DynamoDB and SQS), tested
by the connection-test route. SES is the stand-in endpoint on loopback
(`tests.support.ses_endpoint`), which can throttle and refuse as SES does; moto's own SES
receives a send in the last test."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from moto.ses.models import ses_backends

from tests.support.api import call_api, create_service
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, Refuse, SesEndpoint
from tests.support.ses_events import SES_SENDER, SES_SERVICE

REGION, SENDER = SES_SERVICE["region"], SES_SENDER
MESSAGE = {
    "to": ["john@example.com"],
    "bcc": "audit@example.org",
    "subject": "Hi",
    "body_text": "Hi",
}


def _queue() -> str:
    answer = call_api("POST", "/api/v2/email", MESSAGE, query="async=true")
    assert answer.status == 202, answer.body
    record_id: str = answer.body["id"]
    return record_id


def _record(record_id: str) -> dict[str, Any]:
    answer = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert answer.status == 200, answer.body
    record: dict[str, Any] = answer.body
    return record


# --- the admin API -----------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
def test_an_ses_service_is_created_shown_and_patched() -> None:
    created = create_service({"region": REGION, "from_email": SENDER}, name="ses", type="ses")

    assert created["type"] == "ses"
    shown = call_api("GET", "/api/v2/system/service/ses").body
    assert shown["config"]["region"] == REGION
    assert shown["config"]["configuration_set"] is None
    assert "host" not in shown["config"]
    assert "password" not in shown["config"]

    patched = call_api(
        "PATCH", "/api/v2/system/service/ses", {"config": {"configuration_set": "events"}}
    )

    assert patched.status == 200, patched.body
    assert call_api("GET", "/api/v2/system/service/ses").body["config"]["configuration_set"] == (
        "events"
    )


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    "config",
    [
        {"from_email": SENDER},
        {"region": "Europe", "from_email": SENDER},
        {"region": REGION, "configuration_set": "no spaces"},
        {"region": REGION, "host": "smtp.example.com"},
    ],
    ids=["no region", "bad region", "bad configuration set", "an SMTP key"],
)
def test_a_bad_ses_config_is_a_400(config: dict[str, Any]) -> None:
    answer = call_api(
        "POST", "/api/v2/system/service", {"name": "ses", "type": "ses", "config": config}
    )

    assert answer.status == 400, answer.body


# --- sending -----------------------------------------------------------------------------------


def test_a_synchronous_send_goes_to_ses_and_its_id_is_kept(ses: SesEndpoint) -> None:
    ses.answer(Accept(message_id="0100018c-sync-000001-000000"))

    answer = call_api("POST", "/api/v2/email", MESSAGE)

    assert answer.status == 200, answer.body
    assert answer.body["count"] == 2
    [request] = ses.sent()
    assert request["FromEmailAddress"] == SENDER
    assert request["Destination"] == {"BccAddresses": ["john@example.com", "audit@example.org"]}
    assert request["ConfigurationSetName"] == "events"
    raw = base64.b64decode(request["Content"]["Raw"]["Data"])
    assert b"Subject: Hi" in raw
    assert b"audit@example.org" not in raw
    record = _record(answer.body["id"])
    assert record["status"] == "sent"
    assert record["provider_message_id"] == "0100018c-sync-000001-000000"
    assert record["reply"] == "SES accepted 0100018c-sync-000001-000000"


def test_a_synchronous_send_ses_refuses_is_a_502_with_its_reason(ses: SesEndpoint) -> None:
    ses.answer(Refuse(400, "MessageRejected", "Email address is not verified."))

    answer = call_api("POST", "/api/v2/email", MESSAGE)

    assert answer.status == 502, answer.body
    assert answer.body["error"]["reason"] == "ses_identity_not_verified"


def test_a_throttled_queued_message_is_retried_through_the_queue_then_sent(
    ses: SesEndpoint, send_queue: SendQueue
) -> None:
    ses.answer(Refuse(429, "TooManyRequestsException", "Maximum sending rate exceeded."))
    record_id = _queue()

    first = send_queue.run_worker()

    assert len(first.failed) == 1  # left in the queue, to come back
    deferred = _record(record_id)
    assert (deferred["status"], deferred["attempts"]) == ("deferred", 1)

    send_queue.run_worker()

    sent = _record(record_id)
    assert (sent["status"], sent["attempts"]) == ("sent", 2)
    assert sent["provider_message_id"] == "0100018c-fake-000001-000000"
    assert len(ses.sent()) == 2  # the throttled request, then the accepted one
    assert send_queue.waiting() == 0


def test_a_rejected_queued_message_settles_failed_with_its_reason(
    ses: SesEndpoint, send_queue: SendQueue
) -> None:
    ses.answer(Refuse(400, "MessageRejected", "Illegal address"))
    record_id = _queue()

    send_queue.drain()

    failed = _record(record_id)
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["reason"] == "ses_rejected"
    assert len(ses.sent()) == 1


# --- the connection test -------------------------------------------------------------------------


def test_the_connection_test_asks_ses_and_sends_nothing(ses: SesEndpoint) -> None:
    ses.answer(
        Accept(body={"SendingEnabled": True, "ProductionAccessEnabled": False}),
        Accept(body={"IdentityType": "DOMAIN", "VerifiedForSendingStatus": True}),
    )

    answer = call_api("POST", "/api/v2/system/service/email/test")

    assert answer.status == 200, answer.body
    report = answer.body
    assert report["ok"] is True
    assert [stage["stage"] for stage in report["stages"]] == ["account", "identity"]
    assert report["account"]["production_access"] is False
    assert report["region"] == REGION
    assert ses.sent() == []


# --- moto's SES --------------------------------------------------------------------------------


@pytest.mark.usefixtures("aws")
def test_moto_s_ses_receives_the_message_and_its_id_is_kept() -> None:
    boto3.client("sesv2", region_name="us-east-1").create_email_identity(EmailIdentity=SENDER)
    create_service({"region": "us-east-1", "from_email": SENDER}, type="ses")

    answer = call_api("POST", "/api/v2/email", MESSAGE)

    assert answer.status == 200, answer.body
    [received] = ses_backends["123456789012"]["us-east-1"].sent_messages
    assert received.source == SENDER
    assert "audit@example.org" in received.destinations
    assert _record(answer.body["id"])["provider_message_id"] == received.id
