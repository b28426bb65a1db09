"""The SES API transport against moto's SES (what it stores of a raw send) and against a
stand-in SES endpoint on loopback for the answers moto cannot give (throttling, each refusal,
a 5xx, silence, a dropped connection)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ses.models import ses_backends

from core.composition.compose import compose
from core.errors import DeliveryFailure
from core.outbound import Sealed, seal
from core.send_request import parse_send_request
from core.services.config import SmtpConfig
from core.services.model import Service
from core.transport.base import Deadline, Envelope
from core.transport.ses import (
    SesAccessDenied,
    SesConnectFailed,
    SesFailure,
    SesOutcomeUnknown,
    SesTimeout,
    SesTransport,
)
from tests.support.ses_endpoint import HangUp, Page, Refuse, SesEndpoint, Silence
from tests.support.smtp_servers import ClosedPort

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
SENDER = "sender@example.com"
TO = "to@example.net"
BCC = "hidden@example.org"
LIMIT = 10 * 1024 * 1024


def sealed(body: dict[str, object]) -> Sealed:
    """A message as the API builds it, for a service whose default sender is SENDER."""
    service = Service(name="email", config=SmtpConfig(host="unused", from_email=SENDER))
    request = parse_send_request(body)
    return seal(compose(request, service, now=datetime.now(UTC), size_limit=LIMIT), max_bytes=LIMIT)


MESSAGE = sealed(
    {
        "to": [{"email": TO, "name": "Tö Recipient"}],
        "bcc": BCC,
        "subject": "Grüße from SES",
        "body_text": "Hello,\nthe same bytes as over SMTP.\n",
        "body_html": "<p>Hello</p>",
        "attachments": [{"name": "a.bin", "content": base64.b64encode(bytes(range(256))).decode()}],
    }
)
ENVELOPE = Envelope(SENDER, [TO, BCC])


def deadline() -> Deadline:
    return Deadline.after(5)


@pytest.fixture
def moto_ses() -> Iterator[None]:
    with mock_aws():
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        yield


def moto_sent() -> list[Any]:
    return list(ses_backends[ACCOUNT][REGION].sent_messages)


@pytest.fixture
def endpoint() -> Iterator[SesEndpoint]:
    with SesEndpoint() as running:
        yield running


# --- moto: what SES receives -----------------------------------------------------------------


@pytest.mark.usefixtures("moto_ses")
def test_ses_receives_the_sealed_bytes_unchanged_and_its_id_comes_back() -> None:
    with SesTransport(REGION) as transport:
        transport.open(deadline())
        delivery = transport.send(MESSAGE.raw, ENVELOPE, deadline())

    [received] = moto_sent()
    assert received.raw_data.encode() == MESSAGE.raw
    assert received.source == SENDER
    assert delivery.provider_message_id == received.id
    assert delivery.reply == f"SES accepted {received.id}"
    assert delivery.accepted == [TO, BCC]
    assert not delivery.refused
    assert not delivery.deferred


@pytest.mark.usefixtures("moto_ses")
def test_a_bcc_only_recipient_gets_the_message_and_is_named_nowhere_in_it() -> None:
    message = sealed({"bcc": BCC, "subject": "Only Bcc", "body_text": "Hi"})

    SesTransport(REGION).send(message.raw, Envelope(SENDER, [BCC]), deadline())

    [received] = moto_sent()
    assert BCC in received.destinations
    assert BCC.encode() not in message.raw
    assert received.raw_data.encode() == message.raw


@pytest.mark.usefixtures("moto_ses")
def test_an_unverified_sender_is_refused_for_good() -> None:
    with pytest.raises(SesFailure) as refused:
        SesTransport(REGION).send(MESSAGE.raw, Envelope("other@example.com", [TO]), deadline())

    assert refused.value.reason == "ses_rejected"
    assert not refused.value.transient
    assert refused.value.status == 502
    assert moto_sent() == []


# --- the stand-in endpoint: the request, and each answer -------------------------------------


def test_the_request_carries_the_envelope_and_the_configuration_set(endpoint: SesEndpoint) -> None:
    with SesTransport(REGION, "marketing-events", endpoint_url=endpoint.url) as transport:
        delivery = transport.send(MESSAGE.raw, ENVELOPE, deadline())

    [request] = endpoint.sent()
    assert request["FromEmailAddress"] == SENDER
    assert request["Destination"] == {"BccAddresses": [TO, BCC]}
    assert base64.b64decode(request["Content"]["Raw"]["Data"]) == MESSAGE.raw
    assert request["ConfigurationSetName"] == "marketing-events"
    assert delivery.provider_message_id == "0100018c-fake-000001-000000"


def test_no_configuration_set_is_named_when_the_service_has_none(endpoint: SesEndpoint) -> None:
    SesTransport(REGION, endpoint_url=endpoint.url).send(MESSAGE.raw, ENVELOPE, deadline())

    [request] = endpoint.sent()
    assert "ConfigurationSetName" not in request
    assert "EmailTags" not in request  # a message without tags or metadata


TAGGED = Envelope(SENDER, [TO], tags=("invoice",), metadata=(("order_id", "A-1001"),))


def test_tags_and_metadata_go_as_email_tags(endpoint: SesEndpoint) -> None:
    SesTransport(REGION, endpoint_url=endpoint.url).send(MESSAGE.raw, TAGGED, deadline())

    [request] = endpoint.sent()
    assert request["EmailTags"] == [
        {"Name": "invoice", "Value": "true"},
        {"Name": "order_id", "Value": "A-1001"},
    ]
    assert base64.b64decode(request["Content"]["Raw"]["Data"]) == MESSAGE.raw


@pytest.mark.usefixtures("moto_ses")
def test_moto_takes_a_send_with_email_tags() -> None:
    # botocore checks the request against SES's own model before moto sees it.
    delivery = SesTransport(REGION).send(MESSAGE.raw, TAGGED, deadline())

    [received] = moto_sent()
    assert delivery.provider_message_id == received.id
    assert received.raw_data.encode() == MESSAGE.raw


def test_messages_share_one_kept_alive_connection(endpoint: SesEndpoint) -> None:
    with SesTransport(REGION, endpoint_url=endpoint.url) as transport:
        transport.open(deadline())
        first = transport.send(MESSAGE.raw, ENVELOPE, deadline())
        second = transport.send(MESSAGE.raw, ENVELOPE, deadline())

    assert first.provider_message_id != second.provider_message_id
    assert len(endpoint.sent()) == 2
    assert endpoint.connections == 1


NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region"
    " US-EAST-1: sender@example.com"
)
DENIED = (
    "User `arn:aws:sts::123456789012:assumed-role/email-api-WorkerRole/email-api-worker' is not"
    " authorized to perform `ses:SendRawEmail' on resource"
    " `arn:aws:ses:us-east-1:123456789012:identity/example.com'"
)


ANSWERS = {
    "throttled (429)": (Refuse(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
                        "ses_throttled", True),
    "throttled (v1 code)": (Refuse(400, "Throttling", "Maximum sending rate exceeded."),
                            "ses_throttled", True),
    "daily quota": (Refuse(400, "LimitExceededException", "Daily message quota exceeded."),
                    "ses_quota_exceeded", True),
    "rejected": (Refuse(400, "MessageRejected", "Illegal address"), "ses_rejected", False),
    "not verified": (Refuse(400, "MessageRejected", NOT_VERIFIED),
                     "ses_identity_not_verified", False),
    "MAIL FROM not verified": (Refuse(400, "MailFromDomainNotVerifiedException", "MAIL FROM"),
                               "ses_identity_not_verified", False),
    "paused": (Refuse(400, "SendingPausedException", "Sending is paused"),
               "ses_sending_paused", False),
    "suspended": (Refuse(400, "AccountSuspendedException", "Suspended"),
                  "ses_account_suspended", False),
    "access denied": (Refuse(403, "AccessDeniedException", DENIED), "ses_access_denied", False),
    "no configuration set": (Refuse(404, "NotFoundException", "Configuration set does not exist"),
                             "ses_configuration_set_not_found", False),
    "bad request": (Refuse(400, "BadRequestException", "Missing final '@domain'"),
                    "ses_rejected", False),
    "500": (Refuse(500, "InternalFailure", ""), "ses_unavailable", True),
    "503": (Refuse(503, "ServiceUnavailable", ""), "ses_unavailable", True),
}  # fmt: skip


@pytest.mark.parametrize(
    ("answer", "reason", "transient"), list(ANSWERS.values()), ids=list(ANSWERS)
)
def test_each_answer_of_ses_has_its_reason(
    endpoint: SesEndpoint, answer: Refuse, reason: str, transient: bool
) -> None:
    endpoint.answer(answer)
    transport = SesTransport(REGION, "ops", endpoint_url=endpoint.url)

    with pytest.raises(SesFailure) as failed:
        transport.send(MESSAGE.raw, ENVELOPE, deadline())

    assert (failed.value.reason, failed.value.transient) == (reason, transient)
    assert failed.value.status == 502
    assert not failed.value.maybe_handed_over
    assert failed.value.context["ses_error_code"] == answer.code
    # botocore's own retries are off: the queue decides when to try again.
    assert len(endpoint.requests) == 1


def test_an_access_denial_names_the_resource_but_not_the_functions_role(
    endpoint: SesEndpoint,
) -> None:
    endpoint.answer(Refuse(403, "AccessDeniedException", DENIED))

    with pytest.raises(SesAccessDenied) as denied:
        SesTransport(REGION, endpoint_url=endpoint.url).send(MESSAGE.raw, ENVELOPE, deadline())

    assert "ses:SendRawEmail on identity/example.com" in denied.value.message
    assert "assumed-role" not in denied.value.message
    assert "SesSendingIdentities" in denied.value.message
    signature = endpoint.requests[0].headers["Authorization"]
    assert signature.split("Signature=")[1] not in denied.value.message


def test_a_page_that_is_not_ses_s_answer_is_not_quoted(endpoint: SesEndpoint) -> None:
    endpoint.answer(Page(404, "<html><title>404 Not Found</title>internal.example</html>"))

    with pytest.raises(SesFailure) as refused:
        SesTransport(REGION, endpoint_url=endpoint.url).send(MESSAGE.raw, ENVELOPE, deadline())

    assert refused.value.reason == "ses_rejected"
    assert "<html>" not in refused.value.message
    assert "internal.example" not in refused.value.message


def test_ses_going_quiet_after_the_request_leaves_the_outcome_unknown(
    endpoint: SesEndpoint,
) -> None:
    endpoint.answer(Silence())
    started = time.monotonic()

    with pytest.raises(SesOutcomeUnknown) as unknown:
        SesTransport(REGION, endpoint_url=endpoint.url).send(
            MESSAGE.raw, ENVELOPE, Deadline.after(1.5)
        )

    assert time.monotonic() - started < 1.5
    assert unknown.value.reason == "ses_outcome_unknown"
    assert unknown.value.maybe_handed_over
    assert not unknown.value.transient
    assert isinstance(unknown.value, DeliveryFailure)


def test_a_connection_dropped_after_the_request_leaves_the_outcome_unknown(
    endpoint: SesEndpoint,
) -> None:
    endpoint.answer(HangUp())

    with pytest.raises(SesOutcomeUnknown):
        SesTransport(REGION, endpoint_url=endpoint.url).send(MESSAGE.raw, ENVELOPE, deadline())


def test_a_refused_connection_is_tried_again_later() -> None:
    with ClosedPort() as closed, pytest.raises(SesConnectFailed) as failed:
        SesTransport(REGION, endpoint_url=f"http://127.0.0.1:{closed.port}").send(
            MESSAGE.raw, ENVELOPE, deadline()
        )

    assert failed.value.transient
    assert not failed.value.maybe_handed_over
    assert failed.value.reason == "ses_connect_failed"


def test_no_time_left_sends_nothing(endpoint: SesEndpoint) -> None:
    with pytest.raises(SesTimeout) as late:
        SesTransport(REGION, endpoint_url=endpoint.url).send(
            MESSAGE.raw, ENVELOPE, Deadline.after(0)
        )

    assert late.value.status == 504
    assert late.value.transient
    assert endpoint.requests == []
