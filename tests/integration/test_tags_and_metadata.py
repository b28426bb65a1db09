"""A send's `tags` and `metadata` through the API handler: kept on the message's record and
shown by its lookups and lists, carried by the queued job, sent with the later message events
and webhooks (moto's SQS and a real HTTP server on loopback); never in a header of what a plain
SMTP server receives (a real one on loopback), but as SES's own fields for a service that asks
for them, and as `EmailTags` through the SES API (a stand-in SES endpoint on loopback)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_plain_service, create_service
from tests.support.queue_worker import SendQueue
from tests.support.ses_endpoint import Accept, SesEndpoint
from tests.support.ses_events import directly
from tests.support.smtp_servers import CaptureServer
from tests.support.web_servers import WebServer
from tests.support.webhook_endpoint import HOOK, subscribe
from tests.support.webhook_queue import WebhookCalls

pytestmark = pytest.mark.usefixtures("aws")

SENDER = "noreply@example.com"
MESSAGE = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}
TAGS = ["invoice", "eu-1"]
METADATA = {"order_id": "A-1001", "tenant": "acme_corp"}
SES_ID = "0100018c-tagged-000001-000000"


def _send(body: dict[str, Any], **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body, **options)


def _header_section(server: CaptureServer) -> bytes:
    data = server.only_message.data
    return data[: data.index(b"\r\n\r\n") + 2]


def _ses_fields_server(smtp_server: Callable[..., CaptureServer], **config: Any) -> CaptureServer:
    """A capture server behind an `email` service that sends SES's header fields."""
    server = smtp_server()
    create_plain_service(server.port, ses_message_tags=True, **config)
    return server


# --- the record: stored, looked up, listed ----------------------------------------------------


def test_metadata_is_stored_and_shown_by_the_lookup_and_the_lists(server: CaptureServer) -> None:
    sent = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA})

    assert sent.status == 200, sent.body
    record_id = sent.body["id"]
    looked_up = call_api("GET", f"/api/v2/email/messages/{record_id}")
    assert looked_up.status == 200, looked_up.body
    assert (looked_up.body["tags"], looked_up.body["metadata"]) == (TAGS, METADATA)
    for path in ("/api/v2/email/messages", "/api/v2/system/message"):
        [listed] = call_api("GET", path, query="tag=invoice").body["resource"]
        assert (listed["id"], listed["metadata"]) == (record_id, METADATA)
    by_admin = call_api("GET", f"/api/v2/system/message/{record_id}")
    assert by_admin.body["metadata"] == METADATA


def test_neither_tags_nor_metadata_reach_a_header_of_a_plain_smtp_service(
    server: CaptureServer,
) -> None:
    sent = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA})

    assert sent.status == 200, sent.body
    section = _header_section(server)
    for text in [*TAGS, *METADATA, *METADATA.values()]:
        assert text.encode() not in section, text
    assert b"X-SES-" not in server.only_message.data


def test_a_queued_message_keeps_its_metadata_through_the_job(
    send_queue: SendQueue, server: CaptureServer
) -> None:
    accepted = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA}, query="async=true")
    [job] = send_queue.receive()
    send_queue.run_worker([job])

    assert accepted.status == 202, accepted.body
    assert json.loads(job["Body"])["message"]["metadata"] == METADATA
    record = call_api("GET", f"/api/v2/email/messages/{accepted.body['id']}").body
    assert (record["status"], record["metadata"]) == ("sent", METADATA)
    assert b"acme_corp" not in server.only_message.data


def test_a_dreamfactory_clients_metadata_is_a_placeholder_value(server: CaptureServer) -> None:
    sent = _send({**MESSAGE, "body_text": "Plan: {metadata}", "metadata": "gold"})

    assert sent.status == 200, sent.body
    assert b"Plan: gold" in server.only_message.data
    assert call_api("GET", f"/api/v2/email/messages/{sent.body['id']}").body["metadata"] == {}


@pytest.mark.parametrize(
    ("metadata", "key"),
    [({"bad key": "x"}, "bad key"), ({"n": 7}, "n"), ({"long": "v" * 257}, "long")],
)
def test_bad_metadata_is_a_400_naming_the_key_and_nothing_is_sent(
    smtp_server: Callable[..., CaptureServer], metadata: dict[str, Any], key: str
) -> None:
    server = smtp_server()
    create_plain_service(server.port)

    refused = _send({**MESSAGE, "metadata": metadata})

    assert refused.status == 400, refused.body
    assert refused.body["error"]["reason"] == "invalid_metadata"
    assert refused.body["error"]["context"]["key"] == key
    assert server.sessions == 0


# --- SES's header fields, for a service that asks ---------------------------------------------


def test_a_service_that_asks_gets_x_ses_message_tags_and_its_configuration_set(
    smtp_server: Callable[..., CaptureServer],
) -> None:
    server = _ses_fields_server(smtp_server, ses_configuration_set="events")

    sent = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA})

    assert sent.status == 200, sent.body
    section = _header_section(server)
    tags = b"invoice=true, eu-1=true, order_id=A-1001, tenant=acme_corp"
    assert b"\r\nX-SES-MESSAGE-TAGS: " + tags + b"\r\n" in section
    assert b"\r\nX-SES-CONFIGURATION-SET: events\r\n" in section
    parsed = server.only_message.parsed()
    assert str(parsed["X-SES-MESSAGE-TAGS"]) == (
        "invoice=true, eu-1=true, order_id=A-1001, tenant=acme_corp"
    )


def test_a_service_that_asks_refuses_what_ses_cannot_carry_before_sending(
    smtp_server: Callable[..., CaptureServer],
) -> None:
    server = _ses_fields_server(smtp_server)

    refused = _send({**MESSAGE, "tags": ["customer:1042"], "metadata": METADATA})

    assert refused.status == 400, refused.body
    assert refused.body["error"]["reason"] == "invalid_ses_tag"
    assert refused.body["error"]["context"] == {"field": "tags", "tag": "customer:1042"}
    assert server.sessions == 0


def test_a_caller_still_cannot_write_ses_fields_itself(server: CaptureServer) -> None:
    refused = _send({**MESSAGE, "headers": {"X-SES-MESSAGE-TAGS": "a=b"}})

    assert refused.status == 400, refused.body
    assert refused.body["error"]["reason"] == "header_not_allowed"


def test_the_settings_are_shown_only_when_set(smtp_server: Callable[..., CaptureServer]) -> None:
    _ses_fields_server(smtp_server, ses_configuration_set="events")
    create_service({"host": "smtp.example.com"}, name="plain")

    tagged = call_api("GET", "/api/v2/system/service/email").body["config"]
    plain = call_api("GET", "/api/v2/system/service/plain").body["config"]

    assert (tagged["ses_message_tags"], tagged["ses_configuration_set"]) == (True, "events")
    assert "ses_message_tags" not in plain
    assert "ses_configuration_set" not in plain


# --- the SES API, and the events and webhooks that follow -------------------------------------


def test_ses_gets_email_tags_and_no_header(ses: SesEndpoint) -> None:
    ses.answer(Accept(message_id=SES_ID))

    sent = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA})

    assert sent.status == 200, sent.body
    [request] = ses.sent()
    assert request["EmailTags"] == [
        {"Name": "invoice", "Value": "true"},
        {"Name": "eu-1", "Value": "true"},
        {"Name": "order_id", "Value": "A-1001"},
        {"Name": "tenant", "Value": "acme_corp"},
    ]
    assert b"X-SES-" not in base64.b64decode(request["Content"]["Raw"]["Data"])


def test_ses_refuses_a_tag_it_cannot_carry_before_anything_is_sent(ses: SesEndpoint) -> None:
    refused = _send({**MESSAGE, "metadata": {"note": "two words"}})

    assert refused.status == 400, refused.body
    assert refused.body["error"]["reason"] == "invalid_ses_tag"
    assert refused.body["error"]["context"]["key"] == "note"
    assert ses.sent() == []


def test_the_sent_and_delivered_webhooks_carry_tags_and_metadata(
    ses: SesEndpoint, webhook_calls: WebhookCalls, webhook_endpoint: WebServer
) -> None:
    subscribe(webhook_endpoint.url(HOOK), ["*"])
    ses.answer(Accept(message_id=SES_ID))
    sent = _send({**MESSAGE, "tags": TAGS, "metadata": METADATA})
    assert sent.status == 200, sent.body

    assert directly(_delivery()) == ["applied"]
    webhook_calls.run_until_empty()

    payloads = {
        body["type"]: body
        for body in (json.loads(arrival.body) for arrival in webhook_endpoint.arrivals)
    }
    assert {"accepted", "sent", "delivered"} <= set(payloads)
    for kind in ("accepted", "sent", "delivered"):
        assert payloads[kind]["message_id"] == sent.body["id"]
        assert payloads[kind]["data"]["tags"] == TAGS, kind
        assert payloads[kind]["data"]["metadata"] == METADATA, kind
    assert payloads["delivered"]["recipient"] == "john@example.com"


def _delivery() -> dict[str, Any]:
    """SES's Delivery event for the message SES took as SES_ID, as SES tags it."""
    return {
        "eventType": "Delivery",
        "mail": {
            "timestamp": "2026-12-04T10:00:00.000Z",
            "source": SENDER,
            "sendingAccountId": "123456789012",
            "messageId": SES_ID,
            "destination": ["john@example.com"],
            "headersTruncated": False,
            "tags": {"ses:configuration-set": ["events"], "order_id": ["A-1001"]},
        },
        "delivery": {
            "timestamp": "2026-12-04T10:00:05.000Z",
            "processingTimeMillis": 546,
            "recipients": ["john@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        },
    }
