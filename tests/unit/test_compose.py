"""Composing: a send request and its service in, the normalized message out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from core.addresses import Mailbox
from core.composition import compose as composing
from core.composition.compose import compose, new_message_id
from core.errors import InvalidRequest, MessageTooLarge
from core.message import Attachment, Message
from core.send_request import parse_send_request
from core.services.model import Service
from tests.support.fake_services import smtp_service

NOW = datetime(2026, 3, 2, 9, 30, 15, 987_654, tzinfo=UTC)
SERVICE = smtp_service(
    from_name="Example App",
    reply_to_email="support@example.com",
    reply_to_name="Support",
)


def _compose(service: Service = SERVICE, *, size_limit: int = 100_000, **body: Any) -> Message:
    request = parse_send_request({"to": "john@example.com", "body_text": "Hi", **body})
    return compose(request, service, now=NOW, size_limit=size_limit)


def test_the_service_fills_in_the_sender_and_reply_to() -> None:
    message = _compose()

    assert message.sender == Mailbox("noreply@example.com", "Example App")
    assert message.reply_to == Mailbox("support@example.com", "Support")


def test_the_request_overrides_the_service() -> None:
    message = _compose(
        from_email="billing@example.com",
        from_name="",
        reply_to_email="ar@example.com",
        reply_to_name="Accounts",
    )

    assert message.sender == Mailbox("billing@example.com", "")  # an explicit empty name wins
    assert message.reply_to == Mailbox("ar@example.com", "Accounts")


def test_a_request_reply_to_takes_the_services_reply_to_name() -> None:
    message = _compose(reply_to_email="ar@example.com")

    assert message.reply_to == Mailbox("ar@example.com", "Support")


def test_no_reply_to_anywhere_means_none() -> None:
    assert _compose(smtp_service()).reply_to is None


def test_no_sender_anywhere() -> None:
    with pytest.raises(InvalidRequest) as raised:
        _compose(smtp_service(from_email=None))

    assert (raised.value.status, raised.value.reason) == (400, "no_sender")
    assert raised.value.context == {"field": "from_email"}


def test_a_request_sender_needs_no_service_default() -> None:
    message = _compose(smtp_service(from_email=None), from_email="billing@example.com")

    assert message.sender == Mailbox("billing@example.com", "")


def test_recipients_and_attachments_are_carried_as_given() -> None:
    message = _compose(
        to=[{"email": "john@example.com", "name": "John"}],
        cc="jane@example.com",
        bcc="audit@example.com",
        attachments=[{"name": "a.pdf", "content": "JVBERg==", "content_type": "application/pdf"}],
    )

    assert message.to == [Mailbox("john@example.com", "John")]
    assert message.cc == [Mailbox("jane@example.com")]
    assert message.bcc == [Mailbox("audit@example.com")]
    assert message.attachments == [
        Attachment(name="a.pdf", content=b"%PDF", content_type="application/pdf")
    ]


def test_placeholders_render_into_subject_and_bodies() -> None:
    message = _compose(
        subject="Order {order}",
        body_text="Dear {name}, {unknown} stays",
        body_html="<p>Dear {name}</p>",
        order=42,
        template_data={"name": "<Ann>"},
    )

    assert message.subject == "Order 42"
    assert message.body_text == "Dear <Ann>, {unknown} stays"
    assert message.body_html == "<p>Dear &lt;Ann&gt;</p>"


def test_absent_bodies_stay_absent() -> None:
    message = _compose(body_text=None, body_html="<p>Hi</p>")

    assert (message.body_text, message.body_html) == (None, "<p>Hi</p>")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("42\r\nBcc: victim@example.com", "header_injection"),
        ("42\u2028X: y", "header_injection"),
        ("42\x07", "invalid_character"),
    ],
)
def test_a_placeholder_value_cannot_break_the_subject(value: str, reason: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        _compose(subject="Order {order}", template_data={"order": value})

    assert (raised.value.reason, raised.value.context) == (reason, {"field": "subject"})


def test_the_message_id_is_in_the_senders_domain() -> None:
    first = _compose(from_email="billing@corp.example")
    second = _compose(from_email="billing@corp.example")

    assert first.message_id.startswith("<")
    assert first.message_id.endswith("@corp.example>")
    assert first.message_id != second.message_id
    assert new_message_id("a@b.example").endswith("@b.example>")


def test_the_date_is_now_to_the_second() -> None:
    message = _compose()

    assert message.date == datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)


def test_the_date_keeps_the_clocks_zone() -> None:
    zone = timezone(timedelta(hours=2))
    request = parse_send_request({"to": "john@example.com", "body_text": "Hi"})

    message = compose(request, SERVICE, now=NOW.astimezone(zone), size_limit=100_000)

    assert message.date == NOW.replace(microsecond=0)
    assert message.date.utcoffset() == timedelta(hours=2)


def test_a_message_too_large_is_refused_before_anything_is_rendered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_rendering(*args: object, **kwargs: object) -> str:
        raise AssertionError("rendered a message that was already too large")

    monkeypatch.setattr(composing, "render", no_rendering)
    # 20 bytes of template, a thousand times over: 20 MB once rendered.
    body = "{x}" * 1_000

    with pytest.raises(MessageTooLarge) as raised:
        _compose(size_limit=1_000_000, subject="S", body_text=body, x="y" * 1_000)

    assert raised.value.status == 413
    assert raised.value.context == {"size": 1 + 1_000 * 1_000, "limit": 1_000_000}
    assert "at least" in raised.value.message


def test_attachments_count_toward_the_size() -> None:
    content = "A" * 1_336  # 1,002 bytes decoded

    with pytest.raises(MessageTooLarge) as raised:
        _compose(size_limit=1_000, body_text="x", attachments=[{"name": "a", "content": content}])

    assert raised.value.context == {"size": 1 + 1_002, "limit": 1_000}


def test_html_escaping_counts_toward_the_size() -> None:
    with pytest.raises(MessageTooLarge) as raised:
        _compose(size_limit=100, body_text=None, body_html="{x}", x="<" * 30)

    assert raised.value.context == {"size": 4 * 30, "limit": 100}  # each "<" is "&lt;"


def test_a_message_at_the_limit_is_composed() -> None:
    message = _compose(size_limit=5, subject="ab", body_text="cde")

    assert (message.subject, message.body_text) == ("ab", "cde")
