"""The send path from a parsed request to the transport, with an in-memory outbox."""

from __future__ import annotations

from typing import Any, cast

import pytest

from core.access.authentication import Principal
from core.access.rate_limit import RateLimiter
from core.delivery.queue import MessageQueue
from core.delivery.records import MessageRepository, Status
from core.errors import (
    InvalidRequest,
    MessageTooLarge,
    NotFound,
    SmtpAuthFailed,
    SmtpRejected,
)
from core.secrets import CredentialStore
from core.send_request import parse_send_request
from core.sending import Mailer
from core.services.model import Encryption
from core.services.repository import ServiceRepository
from core.storage import ItemTable
from core.transport.base import Deadline
from tests.support.fake_delivery import FakeMessageQueue, FakeMessageRepository
from tests.support.fake_services import FakeCredentials, FakeServiceRepository, smtp_service
from tests.support.outbox import Outbox

SECRET_ID = "email-api/services/email"


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


@pytest.fixture
def repository() -> FakeServiceRepository:
    return FakeServiceRepository()


@pytest.fixture
def credentials() -> FakeCredentials:
    return FakeCredentials(passwords={SECRET_ID: "s3cret"})


@pytest.fixture
def records() -> FakeMessageRepository:
    return FakeMessageRepository()


@pytest.fixture
def mailer(
    repository: FakeServiceRepository,
    credentials: FakeCredentials,
    outbox: Outbox,
    records: FakeMessageRepository,
) -> Mailer:
    repository.add(
        smtp_service(
            secret_id=SECRET_ID,
            username="mailer",
            from_name="Example App",
            reply_to_email="support@example.com",
            reply_to_name="Support",
        )
    )
    return _mailer(repository, credentials, outbox, records=records, max_message_bytes=100_000)


def _mailer(
    repository: FakeServiceRepository,
    credentials: FakeCredentials,
    outbox: Outbox,
    *,
    records: FakeMessageRepository | None = None,
    max_message_bytes: int,
) -> Mailer:
    # The fakes have the read interface the Mailer uses.
    return Mailer(
        cast(ServiceRepository, repository),
        cast(CredentialStore, credentials),
        outbox.transport_for,
        # The bootstrap principal has no rate limits, so the limiter never reaches its table.
        RateLimiter(ItemTable("rate-limits-unused", "id")),
        cast(MessageRepository, records or FakeMessageRepository()),
        cast(MessageQueue, FakeMessageQueue()),
        max_message_bytes=max_message_bytes,
    )


def _send(mailer: Mailer, service: str = "email", **body: Any) -> dict[str, Any]:
    request = parse_send_request({"to": "john@example.com", "body_text": "Hi", **body})
    return mailer.send(Principal.bootstrap(), service, request, Deadline.after(5)).as_response()


def test_send_hands_one_message_to_the_transport(
    mailer: Mailer, outbox: Outbox, records: FakeMessageRepository
) -> None:
    result = _send(mailer, subject="Hello")

    sent = outbox.only_message
    assert result == {"count": 1, "id": result["id"], "message_id": sent.parsed()["Message-ID"]}
    record = records.get(result["id"])
    assert (record.status, record.attempts, record.accepted) == (
        Status.SENT,
        1,
        ["john@example.com"],
    )
    assert sent.envelope.sender == "noreply@example.com"
    assert sent.envelope.recipients == ["john@example.com"]
    assert sent.parsed()["Subject"] == "Hello"


def test_endpoint_comes_from_the_service_and_its_secret(
    mailer: Mailer, outbox: Outbox, credentials: FakeCredentials
) -> None:
    _send(mailer)

    (endpoint,) = outbox.endpoints
    assert (endpoint.host, endpoint.port, endpoint.encryption) == (
        "smtp.example.com",
        587,
        Encryption.TLS,
    )
    assert (endpoint.verify_tls, endpoint.username, endpoint.password) == (True, "mailer", "s3cret")
    assert credentials.lookups == [(SECRET_ID, "v1")]
    assert "s3cret" not in repr(endpoint)


def test_service_without_a_secret_sends_without_a_password(
    mailer: Mailer, repository: FakeServiceRepository, outbox: Outbox, credentials: FakeCredentials
) -> None:
    repository.add(smtp_service("open", encryption="none", port=25))

    _send(mailer, "open")

    assert outbox.only_message.endpoint.password is None
    assert credentials.lookups == []


def test_envelope_is_to_cc_bcc_and_bcc_stays_out_of_the_message(
    mailer: Mailer, outbox: Outbox
) -> None:
    result = _send(
        mailer,
        to=["john@example.com", "jane@example.com"],
        cc="jane@example.com",
        bcc=["secret@example.com", "john@example.com"],
    )

    sent = outbox.only_message
    assert result["count"] == 3
    assert sent.envelope.recipients == [
        "john@example.com",
        "jane@example.com",
        "secret@example.com",
    ]
    assert b"secret@example.com" not in sent.raw
    assert "Bcc" not in sent.parsed()


def test_sender_defaults_from_the_service(mailer: Mailer, outbox: Outbox) -> None:
    _send(mailer)

    message = outbox.only_message.parsed()
    assert message["From"] == "Example App <noreply@example.com>"
    assert message["Reply-To"] == "Support <support@example.com>"


def test_request_sender_overrides_the_defaults(mailer: Mailer, outbox: Outbox) -> None:
    _send(mailer, from_email="billing@example.com", from_name="", reply_to_email="ar@example.com")

    sent = outbox.only_message
    message = sent.parsed()
    assert sent.envelope.sender == "billing@example.com"
    assert message["From"] == "billing@example.com"  # an explicit empty name wins
    assert message["Reply-To"] == "Support <ar@example.com>"


def test_no_sender_anywhere(
    mailer: Mailer, repository: FakeServiceRepository, outbox: Outbox
) -> None:
    repository.add(smtp_service("bare", from_email=None))

    with pytest.raises(InvalidRequest) as raised:
        _send(mailer, "bare")

    assert raised.value.reason == "no_sender"
    assert outbox.endpoints == []


def test_placeholders_render_into_subject_and_bodies(mailer: Mailer, outbox: Outbox) -> None:
    _send(
        mailer,
        subject="Order {order}",
        body_text="Dear {name}",
        body_html="<p>Dear {name}</p>",
        template_data={"order": 42, "name": "<Ann>"},
    )

    message = outbox.only_message.parsed()
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    assert message["Subject"] == "Order 42"
    assert plain.get_content() == "Dear <Ann>\n"
    assert html.get_content() == "<p>Dear &lt;Ann&gt;</p>\n"


@pytest.mark.parametrize("value", ["42\r\nBcc: victim@example.com", "42\nX: y", "42\u2028X: y"])
def test_placeholder_value_cannot_break_the_subject(
    mailer: Mailer, outbox: Outbox, value: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        _send(mailer, subject="Order {order}", template_data={"order": value})

    assert (raised.value.reason, raised.value.context) == ("header_injection", {"field": "subject"})
    assert outbox.endpoints == []


def test_line_breaks_from_placeholders_are_fine_in_bodies(mailer: Mailer, outbox: Outbox) -> None:
    _send(mailer, body_text="Lines:\n{lines}", template_data={"lines": "one\r\ntwo"})

    assert outbox.only_message.parsed().get_content() == "Lines:\none\ntwo\n"


def test_message_over_the_limit_never_reaches_a_transport(
    repository: FakeServiceRepository, credentials: FakeCredentials, outbox: Outbox
) -> None:
    repository.add(smtp_service())
    mailer = _mailer(repository, credentials, outbox, max_message_bytes=1_000)

    with pytest.raises(MessageTooLarge) as raised:
        _send(mailer, body_text="x" * 2_000)

    assert raised.value.status == 413
    assert raised.value.context["limit"] == 1_000
    assert raised.value.context["size"] > 1_000
    assert outbox.endpoints == []


def test_unknown_service(mailer: Mailer, outbox: Outbox) -> None:
    with pytest.raises(NotFound):
        _send(mailer, "nope")

    assert outbox.endpoints == []


def test_transport_failure_reaches_the_caller_unchanged(
    mailer: Mailer, outbox: Outbox, records: FakeMessageRepository
) -> None:
    outbox.failure = SmtpAuthFailed("SMTP authentication failed: 535 5.7.8 Bad credentials")

    with pytest.raises(SmtpAuthFailed) as raised:
        _send(mailer)

    assert raised.value is outbox.failure
    assert outbox.messages == []
    (record,) = records.records.values()
    assert (record.status, record.smtp_reply) == (Status.FAILED, outbox.failure.message)


def test_some_recipients_refused(mailer: Mailer, outbox: Outbox) -> None:
    outbox.refuse = {"gone@example.com": "550 5.1.1 Mailbox gone"}

    result = _send(mailer, to=["john@example.com", "gone@example.com"])

    assert result["count"] == 1
    assert result["refused"] == {"gone@example.com": "550 5.1.1 Mailbox gone"}


def test_every_recipient_refused(mailer: Mailer, outbox: Outbox) -> None:
    outbox.refuse = {"john@example.com": "550 5.1.1 No such user"}

    with pytest.raises(SmtpRejected) as raised:
        _send(mailer)

    assert raised.value.context["refused"] == {"john@example.com": "550 5.1.1 No such user"}
