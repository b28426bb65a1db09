"""Requests the API turns away before any SMTP connection: 400, 401, 404, 413.

A running capture server backs the service, and every case checks that no client ever
connected to it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import ADMIN_KEY, ApiResponse, call_api, create_service
from tests.support.smtp_servers import LOOPBACK, CaptureServer

pytestmark = pytest.mark.usefixtures("aws")

VALID = {"to": "john@example.com", "subject": "Hi", "body_text": "Hello"}
ATTACHMENT = {"name": "a.txt", "content": base64.b64encode(b"hello").decode()}


@pytest.fixture
def server(smtp_server: Callable[..., CaptureServer]) -> Iterator[CaptureServer]:
    server = smtp_server()
    create_service(
        {
            "host": LOOPBACK,
            "port": server.port,
            "encryption": "none",
            "from_email": "noreply@example.com",
        }
    )
    yield server
    assert server.sessions == 0, "a refused request must not reach the SMTP server"


def _send(body: Any, **options: Any) -> ApiResponse:
    return call_api("POST", "/api/v2/email", body, **options)


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        pytest.param({**VALID, "to": "not-an-address"}, "invalid_address", "to", id="bad-to"),
        pytest.param(
            {**VALID, "cc": ["jane@example.com", "jane@"]}, "invalid_address", "cc", id="bad-cc"
        ),
        pytest.param(
            {**VALID, "bcc": {"name": "No Email"}}, "invalid_address", "bcc", id="bcc-obj"
        ),
        pytest.param(
            {**VALID, "from_email": "me@@example.com"}, "invalid_address", "from_email", id="from"
        ),
        pytest.param({"subject": "Hi", "body_text": "Hello"}, "no_recipient", None, id="no-rcpt"),
        pytest.param({**VALID, "to": []}, "no_recipient", None, id="empty-to"),
        pytest.param({"to": "john@example.com", "subject": "Hi"}, "no_body", None, id="no-body"),
        pytest.param({**VALID, "body_text": ""}, "no_body", None, id="empty-body"),
        pytest.param(
            {**VALID, "attachments": [{**ATTACHMENT, "content": "not base64!"}]},
            "invalid_base64",
            None,
            id="bad-base64",
        ),
        pytest.param(
            {**VALID, "subject": "Hi\r\nBcc: victim@example.com"},
            "header_injection",
            "subject",
            id="crlf-subject",
        ),
        pytest.param(
            {**VALID, "subject": "Hi\u2028there"}, "header_injection", "subject", id="u2028-subject"
        ),
        pytest.param(
            {**VALID, "to": {"email": "john@example.com", "name": "John\nBcc: x@example.com"}},
            "header_injection",
            "to",
            id="lf-to-name",
        ),
        pytest.param(
            {**VALID, "from_name": "Me\rBcc: x@example.com"},
            "header_injection",
            "from_name",
            id="cr-from-name",
        ),
        pytest.param(
            {**VALID, "reply_to_name": "Support\n"},
            "header_injection",
            "reply_to_name",
            id="lf-reply-to-name",
        ),
        pytest.param(
            {**VALID, "attachments": [{**ATTACHMENT, "name": "a.txt\r\nX-Evil: 1"}]},
            "header_injection",
            "attachments.name",
            id="crlf-filename",
        ),
        pytest.param(
            {
                **VALID,
                "subject": "Order {order}",
                "template_data": {"order": "42\r\nBcc: victim@example.com"},
            },
            "header_injection",
            "subject",
            id="crlf-template-data-into-subject",
        ),
        pytest.param(
            {**VALID, "subject": "Order {order}", "order": "42\nBcc: victim@example.com"},
            "header_injection",
            "subject",
            id="crlf-top-level-placeholder-into-subject",
        ),
        pytest.param(
            {**VALID, "attachments": [{**ATTACHMENT, "content_type": "multipart/mixed"}]},
            "invalid_request",
            "attachments.content_type",
            id="container-content-type",
        ),
    ],
)
def test_invalid_body(
    server: CaptureServer, body: dict[str, Any], reason: str, field: str | None
) -> None:
    response = _send(body)

    assert (response.status, response.reason) == (400, reason), response.body
    assert response.body["error"]["code"] == 400
    if field is not None:
        assert response.body["error"]["context"]["field"] == field


def test_invalid_address_message_is_dreamfactorys(server: CaptureServer) -> None:
    response = _send({**VALID, "to": "not-an-address"})

    assert response.body["error"]["message"] == "Invalid email - 'not-an-address'."


@pytest.mark.parametrize(
    "raw_body", ["{not json", "[1, 2]", '"a string"'], ids=["garbage", "list", "string"]
)
def test_body_is_not_a_json_object(server: CaptureServer, raw_body: str) -> None:
    response = _send(None, raw_body=raw_body)

    assert response.status == 400, response.body
    assert response.reason in {"invalid_json", "invalid_request"}


def test_unknown_service(server: CaptureServer) -> None:
    response = call_api("POST", "/api/v2/nosuchservice", VALID)

    assert (response.status, response.reason) == (404, "service_not_found"), response.body
    assert "nosuchservice" in response.body["error"]["message"]


def test_message_over_the_size_limit(server: CaptureServer, configure: Any) -> None:
    configure(MAX_MESSAGE_BYTES="2000")
    attachment = {"name": "big.bin", "content": base64.b64encode(b"\0" * 4000).decode()}

    response = _send({**VALID, "attachments": [attachment]})

    assert (response.status, response.reason) == (413, "message_too_large"), response.body
    assert response.body["error"]["context"]["limit"] == 2000


# --- the API key ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"api_key": None}, id="missing"),
        pytest.param({"api_key": "wrong-key"}, id="unknown"),
        pytest.param({"api_key": ""}, id="empty"),
        pytest.param({"api_key": None, "query": "api_key=wrong-key"}, id="unknown-in-query"),
        pytest.param({"api_key": None, "headers": {"Authorization": ADMIN_KEY}}, id="wrong-header"),
    ],
)
def test_missing_or_unknown_key(server: CaptureServer, options: dict[str, Any]) -> None:
    response = _send(VALID, **options)

    assert (response.status, response.reason) == (401, "unauthorized"), response.body
    assert response.body["error"]["message"] == "Missing or invalid API key."


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="X-DreamFactory-API-Key"),
        pytest.param({"api_key": None, "headers": {"X-API-Key": ADMIN_KEY}}, id="X-API-Key"),
        pytest.param(
            {"api_key": None, "headers": {"x-dreamfactory-api-key": ADMIN_KEY}}, id="lower-case"
        ),
        pytest.param({"api_key": None, "query": f"api_key={ADMIN_KEY}"}, id="query-string"),
    ],
)
def test_key_accepted_wherever_dreamfactory_takes_it(
    smtp_server: Callable[..., CaptureServer], options: dict[str, Any]
) -> None:
    server = smtp_server()
    create_service({"host": LOOPBACK, "port": server.port, "encryption": "none"})

    response = _send({**VALID, "from_email": "me@example.com"}, **options)

    assert (response.status, response.body["count"]) == (200, 1), response.body
    assert len(server.messages) == 1


def test_admin_routes_need_the_key_too(aws: None) -> None:
    for method, path in [
        ("GET", "/api/v2/system/service"),
        ("POST", "/api/v2/system/service"),
        ("GET", "/api/v2/system/service/email"),
        ("PATCH", "/api/v2/system/service/email"),
        ("DELETE", "/api/v2/system/service/email"),
    ]:
        response = call_api(method, path, {}, api_key=None)
        assert (response.status, response.reason) == (401, "unauthorized"), (method, path)


# --- service definitions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "reason"),
    [
        pytest.param(
            {"name": "email", "config": {"host": LOOPBACK, "encryption": "starttls"}},
            "invalid_encryption",
            id="unknown-encryption",
        ),
        pytest.param(
            {"name": "Email", "config": {"host": LOOPBACK}}, "invalid_service_name", id="name"
        ),
        pytest.param(
            {"name": "system", "config": {"host": LOOPBACK}}, "invalid_service_name", id="system"
        ),
        pytest.param(
            {"name": "email", "config": {"host": LOOPBACK, "port": 0}}, "invalid_request", id="port"
        ),
        pytest.param(
            {"name": "email", "config": {"host": LOOPBACK, "from_name": "A\r\nB: c"}},
            "header_injection",
            id="crlf-from-name",
        ),
        pytest.param(
            {"name": "email", "config": {"host": LOOPBACK, "smtp_host": "x"}},
            "invalid_request",
            id="unknown-field",
        ),
    ],
)
def test_invalid_service_definition(aws: None, service: dict[str, Any], reason: str) -> None:
    response = call_api("POST", "/api/v2/system/service", service)

    assert (response.status, response.reason) == (400, reason), response.body
    assert call_api("GET", "/api/v2/system/service").body == {"resource": []}
