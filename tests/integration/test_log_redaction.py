"""The log-redaction rule, on what the functions log while sending (`core.observability.logs`):
no password, no body, no address beyond its domain; and every line of a send tied to its
request, its message and its idempotency key."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from core.observability.logs import redacted
from tests.support.api import call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer, Replies

pytestmark = pytest.mark.usefixtures("aws")

ReadLogs = Callable[[], str]

PASSWORD = "Sm7p-pass-do-not-log"  # a test server's
LOCAL_PARTS = ("john.private", "jane.hidden", "sender.local")
BODY = "The body text nobody logs: invoice 4711 for John."
MESSAGE = {
    "to": [{"email": "john.private@example.com", "name": "John Private"}],
    "cc": ["jane.hidden@example.org"],
    "subject": "Invoice 4711",
    "body_text": BODY,
    "body_html": f"<p>{BODY}</p>",
}


def _service(server: CaptureServer) -> None:
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "username": "mailer",
            "password": PASSWORD,
            "from_email": "sender.local@example.net",
        }
    )


def _lines(logs: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{")]


def _assert_redacted(logs: str) -> None:
    assert PASSWORD not in logs
    assert "invoice 4711" not in logs.lower()
    for local_part in LOCAL_PARTS:
        assert local_part not in logs


def test_a_sent_message_logs_no_secret_body_or_address(
    smtp_server: Callable[..., CaptureServer], function_logs: ReadLogs
) -> None:
    server = smtp_server(credentials=("mailer", PASSWORD))
    _service(server)
    function_logs()  # the service's creation aside: the send's lines alone

    answer = call_api(
        "POST", "/api/v2/email", MESSAGE, headers={"Idempotency-Key": "order-4711-mail"}
    )

    assert answer.status == 200, answer.body
    assert len(server.messages) == 1
    logs = function_logs()
    _assert_redacted(logs)
    (delivered,) = [line for line in _lines(logs) if line["message"] == "message delivered"]
    # Tied to its request, its message record and the key it was sent with.
    assert delivered["correlation_id"]
    assert delivered["record_id"]
    assert delivered["idempotency_key"] == "order-4711-mail"


def test_a_refused_message_logs_no_secret_body_or_address(
    smtp_server: Callable[..., CaptureServer], function_logs: ReadLogs
) -> None:
    # The server's refusal names the recipient, as real ones do.
    refusal = "550 5.1.1 <john.private@example.com>: Recipient address rejected"
    server = smtp_server(credentials=("mailer", PASSWORD), replies=Replies(every_rcpt=refusal))
    _service(server)
    function_logs()

    answer = call_api("POST", "/api/v2/email", MESSAGE)

    assert answer.status >= 400, answer.body
    logs = function_logs()
    assert _lines(logs), "the failure is logged"
    _assert_redacted(logs)


def test_the_rule_cuts_every_address_to_its_domain_at_any_depth() -> None:
    line = {
        "message": "refused: 550 <john.private@example.com> unknown",
        "extra": {"to": ["jane.hidden@Example.ORG"], "count": 2},
        "message_id": "<20261204.abc@mail.example.net>",  # names nobody: kept, to match
    }

    assert redacted(line) == {
        "message": "refused: 550 <***@example.com> unknown",
        "extra": {"to": ["***@Example.ORG"], "count": 2},
        "message_id": "<20261204.abc@mail.example.net>",
    }


def test_a_line_that_names_an_address_is_written_with_its_domain_alone(
    function_logs: ReadLogs,
) -> None:
    from handlers.observed import logger

    logger.info("careless line for john.private@example.com", extra={"cc": "jane.hidden@x.org"})

    (line,) = [line for line in _lines(function_logs()) if line["message"].startswith("careless")]
    assert line["message"] == "careless line for ***@example.com"
    assert line["cc"] == "***@x.org"
