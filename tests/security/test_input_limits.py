"""Hostile input that cost us time, memory or a 500: refused cheaply, with a 400 or a 413,
before any SMTP connection; and attachment names that could hurt the recipient, made safe.
"""

from __future__ import annotations

import base64
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import ApiResponse, call_api, create_plain_service
from tests.support.smtp_servers import CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

VALID = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}
# The suite's 3 s SMTP budget fits one recipient; a hundred or four hundred RCPTs on a busy
# machine (CI, beside the contract fuzzer) took longer. These tests are about the caps and
# the record, not the server's speed.
MANY_RECIPIENTS_TIMEOUT = "60"


@pytest.fixture
def refused(server: CaptureServer) -> Iterator[CaptureServer]:
    """For cases that must be refused: the server must never see a connection."""
    yield server
    assert server.sessions == 0, "a refused request must not reach the SMTP server"


def _send(body: Any = None, **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body, **options)


# --- placeholder amplification ------------------------------------------------------------


def test_a_repeated_large_placeholder_is_refused_before_rendering(
    refused: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1,000 copies of a 1 MB value would be a 1 GB body: 413 from arithmetic alone."""
    rendered: list[str] = []
    monkeypatch.setattr(
        "core.composition.compose.render", lambda text, *_, **__: rendered.append(text)
    )
    body = {**VALID, "body_text": "{v}" * 1000, "template_data": {"v": "x" * 1_000_000}}

    tracemalloc.start()
    try:
        response = _send(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (response.status, response.reason) == (413, "message_too_large")
    assert response.body["error"]["context"]["size"] >= 1_000_000_000
    assert rendered == []
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB for a 1 MB request"


def _many_values(count: int, *, value: str = "x") -> dict[str, Any]:
    """Issue 16's request: `count` values and bodies of `{a` repeated (620 KB at 10,000)."""
    return {
        "to": "john@example.com",
        "body_text": "{a" * 120_000,
        "body_html": "{a" * 120_000,
        "template_data": {f"a{index}": value for index in range(count)},
    }


@pytest.mark.parametrize("path", ["/api/v2/email", "/api/v2/email/preview"])
def test_ten_thousand_placeholder_values_are_refused_before_rendering(
    refused: CaptureServer, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Rendering cost body length x number of values, and the number had no cap: this request
    held a function until its timeout. Now the count is capped, checked before any work."""
    rendered: list[str] = []
    monkeypatch.setattr(
        "core.composition.compose.render", lambda text, *_, **__: rendered.append(text)
    )
    body = _many_values(10_000)
    assert 600_000 < len(json.dumps(body)) < 700_000

    response = call_api("POST", path, body)

    assert (response.status, response.reason) == (400, "too_many_placeholder_values")
    assert response.body["error"]["context"] == {"values": 10_000, "limit": 1_000}
    assert "1000" in response.body["error"]["message"]
    assert rendered == []


def test_placeholder_values_over_a_mebibyte_are_a_413(refused: CaptureServer) -> None:
    """Few values, but large ones: their total is capped too (the message size limit bounds
    what they render to, this bounds what must be held and looked up)."""
    body = {**VALID, "template_data": {f"v{index}": "x" * 300_000 for index in range(4)}}

    response = _send(body)

    assert (response.status, response.reason) == (413, "placeholder_values_too_large")
    assert response.body["error"]["context"]["limit"] == 1024 * 1024


def test_a_thousand_values_over_open_braces_are_sent_at_once(server: CaptureServer) -> None:
    """At the cap, the same bodies render in one pass: the send is answered well within a
    second (it took minutes); the bound is loose, the work is linear."""
    started = time.perf_counter()
    response = _send(_many_values(1_000))
    elapsed = time.perf_counter() - started

    assert response.status == 200, response.body
    assert elapsed < 5, f"{elapsed:.1f} s"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"subject": "{v}" * 30, "body_text": "x"}, id="subject"),
        pytest.param({"body_html": "<p>{v}</p>" * 30}, id="html"),
        # Escaping makes each '<' four bytes: the estimate counts the escaped value.
        pytest.param({"body_html": "{lt}" * 30, "lt": "<" * 200_000}, id="html-escaping"),
        pytest.param({"body_text": "{v}" * 30, "v": "y" * 200_000}, id="top-level-value"),
    ],
)
def test_every_rendered_field_counts_toward_the_limit(
    refused: CaptureServer, configure: Callable[..., None], fields: dict[str, Any]
) -> None:
    configure(MAX_MESSAGE_BYTES=str(5 * 1024 * 1024))
    body = {**VALID, "template_data": {"v": "z" * 200_000}, **fields}

    response = _send(body)

    assert (response.status, response.reason) == (413, "message_too_large")


# --- recipient caps -----------------------------------------------------------------------


def test_thousands_of_recipients_are_refused_before_any_is_validated(
    refused: CaptureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[str] = []
    monkeypatch.setattr("core.addresses.validate_email", lambda email, **_: validated.append(email))
    recipients = [f"user{index}@example.com" for index in range(12_001)]

    response = _send({**VALID, "to": recipients[:6000], "bcc": recipients[6000:]})

    assert (response.status, response.reason) == (400, "too_many_recipients")
    assert response.body["error"]["context"] == {"recipients": 12_001, "limit": 50}
    assert validated == []


def test_the_default_cap_is_fifty_recipients(server: CaptureServer) -> None:
    fifty = [f"user{index}@example.com" for index in range(50)]

    assert _send({**VALID, "to": fifty[:20], "cc": fifty[20:], "bcc": []}).status == 200
    response = _send({**VALID, "to": fifty, "cc": "one.more@example.com"})

    assert (response.status, response.reason) == (400, "too_many_recipients")
    assert len(server.only_message.rcpt_tos) == 50


def test_a_service_may_lower_the_cap_and_the_operator_raise_the_ceiling(
    smtp_server: Callable[..., CaptureServer], configure: Callable[..., None]
) -> None:
    server = smtp_server()
    configure(MAX_RECIPIENTS="120", SMTP_TIMEOUT_SECONDS=MANY_RECIPIENTS_TIMEOUT)
    create_plain_service(server.port, max_recipients=3)
    four = [f"user{index}@example.com" for index in range(4)]

    lowered = _send({**VALID, "to": four})
    call_api("PATCH", "/api/v2/system/service/email", {"config": {"max_recipients": 100}})
    raised = _send({**VALID, "to": [f"user{index}@example.com" for index in range(100)]})
    call_api("PATCH", "/api/v2/system/service/email", {"config": {"max_recipients": 400}})
    capped = _send({**VALID, "to": [f"user{index}@example.com" for index in range(121)]})

    assert (lowered.status, lowered.body["error"]["context"]) == (
        400,
        {"recipients": 4, "limit": 3},
    )
    assert raised.status == 200, raised.body
    assert (capped.status, capped.reason) == (400, "too_many_recipients")
    assert [len(message.rcpt_tos) for message in server.messages] == [100]


def test_the_status_record_of_a_message_at_the_ceiling_fits(
    smtp_server: Callable[..., CaptureServer], configure: Callable[..., None]
) -> None:
    """The largest message the operator can allow keeps a status record DynamoDB can store,
    even with the longest addresses and a long reply refusing each of them."""
    from core.settings import MAX_RECIPIENTS_LIMIT

    server = smtp_server()
    configure(
        MAX_RECIPIENTS=str(MAX_RECIPIENTS_LIMIT), SMTP_TIMEOUT_SECONDS=MANY_RECIPIENTS_TIMEOUT
    )
    create_plain_service(server.port, max_recipients=MAX_RECIPIENTS_LIMIT)
    recipients = [
        f"{'a' * 60}.{index:03d}@{'b' * 63}.{'c' * 63}.example.com" for index in range(400)
    ]

    response = _send({**VALID, "to": recipients})
    assert response.status == 200, response.body
    record = call_api("GET", f"/api/v2/email/messages/{response.body['id']}")

    assert record.status == 200
    assert len(record.body["accepted"]) == MAX_RECIPIENTS_LIMIT
    assert len(json.dumps(record.body)) < 400_000


def test_a_sent_message_is_a_success_even_if_its_record_cannot_be_updated(
    server: CaptureServer,
    monkeypatch: pytest.MonkeyPatch,
    function_logs: Callable[[], str],
) -> None:
    """Once the server has the message, a 500 would make a retrying client send it again."""
    from core.delivery.record_store import MessageRepository

    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("ValidationException: Item size has exceeded the maximum allowed size")

    monkeypatch.setattr(MessageRepository, "settle", broken)

    response = _send(VALID)

    assert response.status == 200, response.body
    assert len(server.messages) == 1
    assert "message sent, but its status record could not be updated" in function_logs()


# --- inputs that were a 500 ---------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("raw_body", "reason"),
    [
        pytest.param('{"to": "john@example.com", "body_text": "\\ud800"}', "invalid_character"),
        pytest.param(
            '{"to": "john@example.com", "body_text": "a", "s": "\\udfff"}', "invalid_character"
        ),
        pytest.param('{"to": "john@example.com", "body_text": "a\\u0000b"}', "invalid_character"),
        pytest.param(
            '{"to": "john@example.com", "body_text": "a", "subject": "\\u0000"}',
            "invalid_character",
        ),
        pytest.param(
            '{"to": "john@example.com", "body_text": "a", "template_data": {"v": "\\u0000"}}',
            "invalid_character",
        ),
        pytest.param("[" * 100_000 + "]" * 100_000, "invalid_json", id="deep-array"),
        pytest.param('{"a":' * 50_000 + "1" + "}" * 50_000, "invalid_json", id="deep-object"),
        pytest.param(
            json.dumps({**VALID, "x": _nested(40)}),
            "invalid_json",
            id="nested-beyond-32",
        ),
    ],
)
def test_inputs_that_are_not_text_are_a_400(
    refused: CaptureServer, raw_body: str, reason: str
) -> None:
    response = _send(raw_body=raw_body)

    assert (response.status, response.reason) == (400, reason), response.body


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"to": "=?utf-8?q?ceo?=@example.com"}, id="to"),
        pytest.param({"cc": {"email": "=?utf-8?b?Y2Vv?=@example.com"}}, id="cc"),
        pytest.param({"from_email": "=?utf-8?q?x?=@example.com"}, id="from"),
    ],
)
def test_an_encoded_word_in_an_address_is_a_400(
    refused: CaptureServer, fields: dict[str, Any]
) -> None:
    response = _send({**VALID, **fields})

    assert (response.status, response.reason) == (400, "invalid_address")


@pytest.mark.parametrize("field", ["subject", "from_name", "reply_to_name"])
def test_nul_in_a_header_field_is_a_400(refused: CaptureServer, field: str) -> None:
    response = _send({**VALID, "reply_to_email": "noreply@example.com", field: "a\x00b"})

    assert response.status == 400
    assert response.reason in ("invalid_character", "header_injection")


# --- attachment names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "delivered"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
        ("/absolute/path/report.pdf", "report.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("a\u200bb\u2066c\u2069.txt", "abc.txt"),
        ("bell\x07tab\tesc\x1b.txt", "belltabesc.txt"),
        ("=?utf-8?b?ZXZpbC5leGU=?=", "=_utf-8_b_ZXZpbC5leGU=_="),
        ("..", "attachment"),
        ("report.pdf:hidden", "report.pdf_hidden"),
        ("résumé \u2013 2026 (final).pdf", "résumé \u2013 2026 (final).pdf"),
        ("日本語のファイル名" * 10 + ".txt", "日本語のファイル名" * 10 + ".txt"),
    ],
)
def test_attachment_names_arrive_as_a_safe_base_name(
    server: CaptureServer, given: str, delivered: str
) -> None:
    attachment = {"name": given, "content": base64.b64encode(b"data").decode()}

    response = _send({**VALID, "attachments": [attachment]})

    assert response.status == 200, response.body
    received = server.only_message
    (part,) = received.parsed().iter_attachments()
    assert part.get_filename() == delivered
    disposition = received.data.split(b"Content-Disposition:")[1].split(b"\r\n\r\n")[0]
    assert b"=?" not in disposition, "mail clients would decode an encoded word there"
